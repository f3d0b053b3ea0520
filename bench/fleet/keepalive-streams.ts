// The simulator's keepalives on one long-lived LeaseKeepAlive stream per lease, for fleets too large for
// this machine to simulate with a new stream per keepalive. A real agent sends one keepalive every T/3 on a
// short stream of its own (Store.keepAliveOnce, for its own deadline); opening that stream costs the
// *client* about twice the CPU of a message on a stream already open (keepalive-cost.ts), and 10,000
// simulated agents put 1,000 keepalives a second on 2 cores. etcd handles both alike: a keepalive is a
// Renew on the leader, not a raft write, so what the outage scenario measures on etcd's side (grants,
// proposals, backlog) does not change.
//
// Why one stream per lease and not one per worker: etcd serves a LeaseKeepAlive stream one request at a
// time, and a Renew of an expired lease waits until that lease is revoked; on a shared stream one such
// lease would hold up every other lease's keepalive behind it, which an agent never sees.
// The contract of Store.keepAliveOnce is kept: a deadline per call (checked after one poll turn), TTL 0 for a lease etcd no longer has,
// errors typed the same way. A stream that failed, or did not even open by the deadline, is dropped and the
// next call opens a new one (as the agent's next keepalive would). A stream that is open but whose answer
// missed the deadline is kept, its late answer skipped: etcd renews the lease in both cases, and opening
// thousands of streams again at once helped saturate the simulator's CPU after an outage (its event loops
// ran seconds late, so answers missed their deadlines on the simulator's side, not etcd's).
// With BENCH_KA_DEBUG=1 each worker prints what its keepalives met (answered alive or gone, deadline,
// error, streams opened) every 5 s on stderr.
import { createClient } from '../../src/etcd/client.js';
import { call } from '../../src/etcd/errors.js';
import type { EtcdConfig } from '../../src/etcd/options.js';
import { leaseFromHex } from '../../src/etcd/store.js';

type Client = ReturnType<typeof createClient>;
type Stream = Awaited<ReturnType<Client['leaseClient']['leaseKeepAlive']>>;

/** One lease's stream and the call waiting on it (a lease's keepalives are sequential, as an agent's are). */
interface LeaseStream {
  stream: Stream;
  waiting: ((res: { ttl?: number; err?: Error }) => void) | undefined;
  /** Requests written and not answered yet: etcd answers in order, so only the last one's answer is awaited. */
  unanswered: number;
}

/** Outcomes of every KeepAliveStreams call in this process (debug: BENCH_KA_DEBUG=1 prints them). */
export const kaStats = { alive: 0, gone: 0, deadline: 0, error: 0, opened: 0, openMsMax: 0, answerMsMax: 0 };

export class KeepAliveStreams {
  private readonly client: Client;
  private readonly streams = new Map<string, Promise<LeaseStream>>();

  constructor(cfg: EtcdConfig) {
    this.client = createClient(cfg, { ownConnection: true });
  }

  /** Same contract as Store.keepAliveOnce: the remaining TTL (0: lease gone), or a rejection in time. */
  keepAliveOnce(lease: string, timeoutMs: number): Promise<number> {
    return call('lease keepalive', () => this.send(leaseFromHex(lease), timeoutMs));
  }

  close(): void {
    for (const id of [...this.streams.keys()]) this.drop(id, new Error('closed'));
    this.client.close();
  }

  // The deadline covers opening the stream too: a stream asked for while etcd is down may never open.
  private send(id: string, timeoutMs: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      let settled = false;
      const t0 = Date.now();
      const settle = (res: { ttl?: number; err?: Error }) => {
        if (settled) return;
        settled = true;
        if (res.err) kaStats[/deadline/.test(res.err.message) ? 'deadline' : 'error']++;
        else {
          kaStats[res.ttl! > 0 ? 'alive' : 'gone']++;
          kaStats.answerMsMax = Math.max(kaStats.answerMsMax, Date.now() - t0);
        }
        clearTimeout(timer);
        if (res.err) reject(res.err);
        else resolve(res.ttl!);
      };
      let opened = false;
      // As Store.keepAliveOnce: the deadline is checked after one poll turn, so an answer that has
      // arrived while the event loop was busy is read first.
      const timer = setTimeout(
        () =>
          setImmediate(() => {
            if (settled) return;
            settle({ err: new Error('keepalive deadline exceeded') });
            if (!opened) this.drop(id, new Error('keepalive deadline exceeded'));
          }),
        timeoutMs,
      );
      this.open(id).then(
        (ls) => {
          opened = true;
          kaStats.openMsMax = Math.max(kaStats.openMsMax, Date.now() - t0);
          if (settled) return;
          // A call still waiting (its caller gave up and asked again) is superseded by this one.
          ls.waiting?.({ err: new Error('superseded by a newer keepalive') });
          ls.waiting = (res) => {
            ls.waiting = undefined;
            settle(res);
          };
          ls.unanswered++;
          ls.stream.write({ ID: id });
        },
        (err: Error) => settle({ err }),
      );
    });
  }

  private open(id: string): Promise<LeaseStream> {
    let opening = this.streams.get(id);
    if (opening) return opening;
    kaStats.opened++;
    opening = this.client.leaseClient.leaseKeepAlive().then((stream) => {
      const ls: LeaseStream = { stream, waiting: undefined, unanswered: 0 };
      stream.on('data', (res: { TTL: string }) => {
        const ttl = Number(res.TTL);
        ls.unanswered = Math.max(0, ls.unanswered - 1);
        // An earlier request's late answer (its caller gave up) is skipped, unless it says the lease is gone.
        if (ls.unanswered === 0 || ttl <= 0) ls.waiting?.({ ttl });
        if (ttl <= 0) this.drop(id, new Error('lease gone'), opening); // not asked about again
      });
      stream.on('error', (err: Error) => this.drop(id, err, opening));
      stream.on('end', () => this.drop(id, new Error('keepalive stream ended'), opening));
      return ls;
    });
    this.streams.set(id, opening);
    opening.catch(() => this.streams.get(id) === opening && this.streams.delete(id));
    return opening;
  }

  /** Forget a lease's stream (failing the call waiting on it); `only` drops it only if it is still that one. */
  private drop(id: string, err: Error, only?: Promise<LeaseStream>): void {
    const current = this.streams.get(id);
    if (!current || (only && current !== only)) return;
    this.streams.delete(id);
    current.then(
      (ls) => {
        ls.waiting?.({ err });
        ls.stream.on('error', () => undefined);
        ls.stream.end();
      },
      () => undefined,
    );
  }
}
