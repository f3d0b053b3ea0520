// Certificates for the mTLS tests, made by running docs/security.md's own `sh` block in a temp dir.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '../helpers/etcd.js';
import { codeBlocks, readDoc } from '../docs/markdown.js';

/** The files the docs' block writes, by absolute path. */
export interface TestCerts {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** Run the documented certificate commands in a fresh temp dir. */
export function makeCerts(): TestCerts {
  requireBinary('openssl');
  const block = codeBlocks(readDoc('docs/security.md'), 'sh').find((b) => b.heading === 'Generating certificates');
  if (!block) throw new Error('docs/security.md has no sh block under "Generating certificates"');
  const dir = mkdtempSync(join(tmpdir(), 'beacon-certs-'));
  execFileSync('sh', ['-ec', block.body], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  const f = (name: string) => join(dir, name);
  return {
    dir,
    caFile: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
  };
}
