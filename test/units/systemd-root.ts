// A throwaway root for `systemd-analyze verify --root`: PID 1 here is not systemd, and verify reads
// units, their dependencies and the ExecStart= binary from the root, so the root needs systemd's own
// unit tree (copied from this machine) and an executable at the path each unit starts.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireBinary } from '../helpers/etcd.js';

/** The repository root (this file runs as dist/test/units/systemd-root.js). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** What `systemd-analyze` said. */
export interface AnalyzeResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A temp root with systemd's units and stub executables; write units into it, then verify. */
export class SystemdRoot {
  readonly dir: string;

  constructor(stubBinaries: string[] = ['/usr/local/bin/beacon', '/opt/bin/beacon']) {
    requireBinary('systemd-analyze');
    this.dir = mkdtempSync(join(tmpdir(), 'beacon-units-'));
    mkdirSync(join(this.dir, 'usr/lib/systemd'), { recursive: true });
    cpSync('/usr/lib/systemd/system', join(this.dir, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    // A stub is enough: verify checks that the binary exists and is executable, it never runs it.
    for (const bin of stubBinaries) this.write(bin, '#!/bin/sh\nexit 0\n', 0o755);
  }

  /** Write a file at an absolute path inside the root. */
  write(path: string, text: string, mode = 0o644): void {
    const p = join(this.dir, path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    chmodSync(p, mode);
  }

  /** Install a unit (and drop-ins by file name) under /etc/systemd/system. */
  installUnit(name: string, text: string, dropins: Record<string, string> = {}): void {
    this.write(`/etc/systemd/system/${name}`, text);
    for (const [file, body] of Object.entries(dropins)) this.write(`/etc/systemd/system/${name}.d/${file}`, body);
  }

  /** `systemd-analyze verify` on installed unit names. */
  verify(...units: string[]): AnalyzeResult {
    return this.analyze(['verify', `--root=${this.dir}`, ...units]);
  }

  /** `systemd-analyze security --offline=yes` on one installed unit. */
  security(unit: string): AnalyzeResult & { exposure: number } {
    const r = this.analyze(['security', '--offline=yes', `--root=${this.dir}`, '--no-pager', unit]);
    const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.stdout);
    if (!m) throw new Error(`no exposure level in systemd-analyze security output:\n${r.stdout}\n${r.stderr}`);
    return { ...r, exposure: Number(m[1]) };
  }

  destroy(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private analyze(args: string[]): AnalyzeResult {
    const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', env: { ...process.env, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '' } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
}

/** Section → key → values (a key may repeat) of a unit file; comments and blank lines skipped. */
export function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      section = out.get(head[1]!) ?? new Map();
      out.set(head[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 0) throw new Error(`not a unit file line: ${line}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}
