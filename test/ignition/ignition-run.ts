// Run the real Ignition (Debian's `ignition` package, the binary dracut would run in the initramfs)
// against a temp root, with files served over HTTP on loopback as a real host would fetch them.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Where Debian's package puts the Ignition binary (it is meant for dracut's initramfs). */
export const IGNITION_BIN = '/usr/lib/dracut/modules.d/30ignition/ignition';

/** A tiny HTTP server on 127.0.0.1 serving fixed files by path; it records the paths asked for. */
export class FileServer {
  private constructor(
    private readonly server: Server,
    /** http://127.0.0.1:PORT */
    readonly base: string,
    /** Request paths, in order. */
    readonly requests: string[],
  ) {}

  static async start(files: Record<string, Buffer>): Promise<FileServer> {
    const requests: string[] = [];
    const server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const body = files[req.url ?? ''];
      res.writeHead(body ? 200 : 404).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    return new FileServer(server, `http://127.0.0.1:${port}`, requests);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Outcome of the fetch and files stages. */
export interface IgnitionRun {
  ok: boolean;
  output: string;
}

/**
 * Prepare `root` the way Ignition expects of a host and run stage `fetch` then `files`:
 * - Ignition relabels what it wrote when /etc/selinux/config names SELINUXTYPE=targeted, and fails
 *   without that file; a no-op `setfiles` first on PATH satisfies it on a root without SELinux.
 * - `-platform file` reads the config from $IGNITION_CONFIG_FILE.
 * Asynchronous on purpose: a FileServer in this process must keep answering while Ignition fetches.
 */
export async function runIgnition(config: unknown, root: string): Promise<IgnitionRun> {
  const work = mkdtempSync(join(tmpdir(), 'beacon-ignition-'));
  try {
    mkdirSync(join(root, 'etc/selinux'), { recursive: true });
    writeFileSync(join(root, 'etc/selinux/config'), 'SELINUX=disabled\nSELINUXTYPE=targeted\n');
    mkdirSync(join(work, 'bin'));
    writeFileSync(join(work, 'bin/setfiles'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(work, 'bin/setfiles'), 0o755);
    const configFile = join(work, 'config.ign');
    writeFileSync(configFile, JSON.stringify(config));
    const common = ['-platform', 'file', '-log-to-stdout', '-config-cache', join(work, 'cache.json'), '-state-file', join(work, 'state')];
    const env = { ...process.env, IGNITION_CONFIG_FILE: configFile, PATH: `${join(work, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    let output = '';
    for (const stage of [
      ['-stage', 'fetch', '-neednet', join(work, 'neednet')],
      ['-stage', 'files', '-root', root],
    ]) {
      const r = await run(IGNITION_BIN, [...common, ...stage], env);
      output += r.output;
      if (!r.ok) return { ok: false, output };
    }
    return { ok: true, output };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<IgnitionRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)(cmd, args, { env, timeout: 60_000, maxBuffer: 16 << 20 });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}
