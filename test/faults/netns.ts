// A network namespace joined to the host by a veth pair on a private /30, so one agent can be cut off
// from etcd (link down: its packets go nowhere, as in a real partition) while everything else stays up.
// Names carry the creating pid, so a namespace left by a test process that died is removed by the next run.
import { spawnSync } from 'node:child_process';
import { requireBinary } from '../helpers/etcd.js';

const PREFIX = 'bcnf';
let counter = 0;

// Run `ip`, throwing with its stderr on failure.
function ip(args: string[]): string {
  const r = spawnSync(requireBinary('ip'), args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Delete namespaces this suite created in test processes that no longer run. */
export function sweepStaleNamespaces(): void {
  for (const line of ip(['netns', 'list']).split('\n')) {
    const m = new RegExp(`^(${PREFIX}(\\d+)x\\d+)`).exec(line.trim());
    if (m && !pidAlive(Number(m[2]))) spawnSync('ip', ['netns', 'del', m[1]!]);
  }
}

/** One namespace with a veth pair: `hostAddress` on the host side, `nsAddress` inside. */
export class Netns {
  private constructor(
    readonly name: string,
    readonly hostVeth: string,
    readonly nsVeth: string,
    readonly hostAddress: string,
    readonly nsAddress: string,
  ) {}

  /** Create the namespace, the veth pair and the addresses; the link is up. */
  static create(): Netns {
    sweepStaleNamespaces();
    const n = counter++;
    const name = `${PREFIX}${process.pid}x${n}`;
    const hostVeth = `bfh${process.pid}${n}`.slice(0, 15);
    const nsVeth = `bfn${process.pid}${n}`.slice(0, 15);
    // A /30 in 10.233.0.0/16 not in use on this host (parallel test processes pick different ones).
    const used = ip(['-o', '-4', 'addr', 'show']);
    let base = ((process.pid * 7 + n * 13) % 16_384) * 4;
    const addr = (i: number) => `10.233.${Math.floor(i / 256) % 256}.${i % 256}`;
    while (used.includes(` ${addr(base + 1)}/`)) base = (base + 4) % 65_536;
    const ns = new Netns(name, hostVeth, nsVeth, addr(base + 1), addr(base + 2));
    ip(['netns', 'add', name]);
    try {
      ip(['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', nsVeth]);
      ip(['link', 'set', nsVeth, 'netns', name]);
      ip(['addr', 'add', `${ns.hostAddress}/30`, 'dev', hostVeth]);
      ip(['link', 'set', hostVeth, 'up']);
      ip(['-n', name, 'addr', 'add', `${ns.nsAddress}/30`, 'dev', nsVeth]);
      ip(['-n', name, 'link', 'set', 'lo', 'up']);
      ip(['-n', name, 'link', 'set', nsVeth, 'up']);
    } catch (err) {
      ns.destroy();
      throw err;
    }
    return ns;
  }

  /** The command prefix that runs a program inside the namespace. */
  get wrap(): string[] {
    return [requireBinary('ip'), 'netns', 'exec', this.name];
  }

  /** Partition: the namespace's end of the link goes down; packets to and from it are lost. */
  down(): void {
    ip(['-n', this.name, 'link', 'set', this.nsVeth, 'down']);
  }

  /** Heal the partition. */
  up(): void {
    ip(['-n', this.name, 'link', 'set', this.nsVeth, 'up']);
  }

  /** Remove the namespace (its veth end goes with it, taking the host end along). */
  destroy(): void {
    spawnSync('ip', ['netns', 'del', this.name]);
    spawnSync('ip', ['link', 'del', this.hostVeth]);
  }
}
