// Build the etcd3 client the way beacon needs it: no hidden retries or circuit breakers, gRPC
// keepalive so a hung member is noticed, and TLS/auth from config.
import { Etcd3, GRPCCancelledError, GRPCDeadlineExceededError, GRPCUnavailableError, type IOptions } from 'etcd3';
import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, noop } from 'cockatiel';
import { isIP } from 'node:net';
import type { EtcdConfig } from './options.js';
import { tlsCredentials, usesTls } from './tls.js';

// etcd refuses pings closer than 5 s apart (--grpc-keepalive-min-time); stay above it.
const GRPC_KEEPALIVE_MS = 6_000;
const GRPC_KEEPALIVE_TIMEOUT_MS = 2_000;

// etcd3 sends each call to a random member and does not fail over, so a hung member (stopped, or cut
// off without a refusal) costs a third of all calls their whole deadline, and an agent's keepalives
// miss their TTL while two healthy members answer (a SIGSTOPped leader does this). A member whose
// call just timed out or could not be reached is therefore skipped for a second, then tried once more.
// Only with several members: a lone member has nothing to skip to, and skipping it only delays recovery.
const MEMBER_COOLDOWN_MS = 1_000;

// The largest gRPC message this client accepts (gRPC's default is 4 MiB). etcd bounds what one request may
// write (--max-request-bytes, 1.5 MiB by default, so one value is at most that), not what one response may
// carry: a range page holds as many values as it has keys, and one watch response holds every event of a
// revision, each with its previous value (a node deleting its own keys in one transaction: N values at once).
// At 4 MiB, four 1.4 MiB values under one node's prefix, which its own credentials may write, would fail
// every listing. 64 MiB takes a watch response of ~40 default-limit values with their previous values, or ~3
// at etcd's suggested largest --max-request-bytes (10 MiB); Store.list pages around anything bigger, and a
// watch response over it ends that watch, whose owner lists again (src/watcher/feed.ts, src/client/follow.ts).
// A message is held in memory once while it is decoded, so the limit also bounds one response's memory.
export const MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

/** Options of the client that are not part of beacon's config. */
export interface ClientTuning {
  /** Largest gRPC message accepted, bytes (default MAX_RECEIVE_BYTES; tests set a small one). */
  maxReceiveBytes?: number;
  /**
   * A connection of this client's own. grpc-js shares one HTTP/2 connection between every client of a
   * process with the same target and options; an agent has one client, a fleet simulator thousands,
   * which would otherwise all sit on one connection (and stall together when it does).
   */
  ownConnection?: boolean;
}

/** Whether an etcd3 error says the member itself is unreachable or hung (not that it refused the request). */
function memberDown(err: Error): boolean {
  return err instanceof GRPCDeadlineExceededError || err instanceof GRPCUnavailableError;
}

/** etcd3 client options for a config: every call fails fast, beacon owns retries and deadlines. */
export function clientOptions(cfg: EtcdConfig, tuning: ClientTuning = {}): IOptions {
  const opts: IOptions = {
    hosts: cfg.endpoints,
    dialTimeout: cfg.dialTimeoutMs,
    // The default per-host circuit breaker refuses a member for 5 s after 3 failures (ours: 1 s after
    // one, see MEMBER_COOLDOWN_MS), and the default global retry hides outages from our own deadline
    // logic: beacon retries itself.
    faultHandling: {
      host: () =>
        cfg.endpoints.length > 1
          ? circuitBreaker(handleWhen(memberDown), { halfOpenAfter: MEMBER_COOLDOWN_MS, breaker: new ConsecutiveBreaker(1) })
          : noop,
      global: noop,
    },
    grpcOptions: {
      'grpc.keepalive_time_ms': GRPC_KEEPALIVE_MS,
      'grpc.keepalive_timeout_ms': GRPC_KEEPALIVE_TIMEOUT_MS,
      // Pings without an open stream count as abuse on etcd's side (PermitWithoutStream=false).
      'grpc.keepalive_permit_without_calls': 0,
      // gRPC's reconnect backoff grows to 120 s by default; the agent must be back within
      // seconds of etcd answering again.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 1_000,
      'grpc.max_receive_message_length': tuning.maxReceiveBytes ?? MAX_RECEIVE_BYTES,
      ...(tuning.ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
    },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + cfg.requestTimeoutMs }),
  };
  if (usesTls(cfg)) opts.credentials = tlsCredentials(cfg);
  if (cfg.username) {
    opts.auth = { username: cfg.username, password: cfg.password ?? '' };
  }
  return opts;
}

/** A new etcd3 client for a config. */
export function createClient(cfg: EtcdConfig, tuning: ClientTuning = {}): Etcd3 {
  const client = new Etcd3(clientOptions(cfg, tuning));
  ignoreOwnCancels(client);
  keepChannelsOpen(client);
  noServerNameForIp(client);
  if (cfg.endpoints.length > 1) preferConnected(client);
  return client;
}

// grpc-js connectivity state READY (@grpc/grpc-js connectivityState.READY).
const GRPC_READY = 2;

// etcd3 picks a member at random for every call. After a member was SIGKILLed (or restarted), its
// connection is closed and this client knows it, yet each call still had one chance in three of going
// there, failing, and being retried after a jittered wait: an agent whose keepalive drew it a second or two
// after the kill had an outage of its own that late (the follower-kill fault's re-registration figure,
// docs/reliability.md). So members are tried in this order, each group in random order: connected and not
// failing; not connected yet (a fresh client still spreads over the cluster) and not failing; then those
// whose member breaker (MEMBER_COOLDOWN_MS) is open, so that a member which just failed, a hung one
// included, is asked again only when no other is left to ask.
function preferConnected(client: Etcd3): void {
  type Host = {
    cachedServices: Record<string, { getChannel(): { getConnectivityState(connect: boolean): number } } | undefined>;
    faultHandling: { state?: CircuitState };
  };
  const { pool } = client as unknown as { pool: { hosts: Host[]; shuffledHosts(): Generator<Host> } };
  const shuffled = pool.shuffledHosts.bind(pool);
  const connected = (h: Host) =>
    Object.values(h.cachedServices).some((svc) => svc?.getChannel().getConnectivityState(false) === GRPC_READY);
  const rank = (h: Host) => (h.faultHandling.state === undefined || h.faultHandling.state === CircuitState.Closed ? 0 : 2) + (connected(h) ? 0 : 1);
  pool.shuffledHosts = function* () {
    const random = shuffled();
    const order = pool.hosts.map(() => random.next().value as Host);
    const ranks = new Map(order.map((h) => [h, rank(h)]));
    order.sort((x, y) => ranks.get(x)! - ranks.get(y)!); // stable: random within a rank
    for (;;) yield* order;
  };
}

// etcd3 "resets" a member after any error it deems recoverable (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED,
// RESOURCE_EXHAUSTED...), of a call or of a stream: it closes every gRPC channel to that member. grpc-js
// lets the streams already open on a closed channel run on, but on a closed HTTP/2 session, where the next
// keepalive ping cannot be sent ("Ping returned false"): up to 6 s later (GRPC_KEEPALIVE_MS) every such
// stream (watches, lease keepalives, the election's) drops with "UNAVAILABLE: Connection dropped". That
// drop is itself recoverable, so it resets the member again and closes the channel the streams re-created
// meanwhile sit on: with two long-lived streams this never ends (one oversized watch response is enough to
// start it, and the watcher's feed and election watches then drop in turn every ~6 s for as long as it
// runs). grpc-js reconnects a broken transport by itself (keepalive, socket errors; backoff 200 ms to 1 s
// above), so the reset adds nothing: it is disabled, and closing the client still closes every channel.
function keepChannelsOpen(client: Etcd3): void {
  const { hosts } = (client as unknown as { pool: { hosts: { resetAllServices(): void; close(): void; closed: boolean }[] } }).pool;
  for (const host of hosts) {
    const reset = host.resetAllServices.bind(host);
    host.resetAllServices = () => undefined;
    host.close = () => {
      reset();
      host.closed = true;
    };
  }
}

// grpc-js always sends the endpoint's host as the TLS ServerName (SNI), and Node warns on stderr
// (DEP0123: "Setting the TLS ServerName to an IP address is not permitted by RFC 6066") for an IP: every
// CLI call to https://10.0.0.1:2379 printed it. For an IP the ServerName is dropped, as RFC 6066 asks.
// The certificate is still checked against the address: without a ServerName Node's checkServerIdentity
// gets the connection's host (the IP, matched against the certificate's IP SANs), exactly as before.
// A host name keeps its ServerName. The credentials object is etcd3's, one for every member and the
// authenticator; grpc-js asks it for one connector per subchannel.
function noServerNameForIp(client: Etcd3): void {
  type Connector = { connectionOptions?: { servername?: unknown } };
  type Credentials = { _createSecureConnector?: (...args: unknown[]) => Connector };
  const { hosts } = (client as unknown as { pool: { hosts: { channelCredentials: Credentials }[] } }).pool;
  const patched = new Set<Credentials>();
  for (const { channelCredentials: creds } of hosts) {
    const create = creds._createSecureConnector;
    if (patched.has(creds) || typeof create !== 'function') continue;
    patched.add(creds);
    creds._createSecureConnector = (...args: unknown[]) => {
      const connector = create.apply(creds, args);
      const opts = connector.connectionOptions;
      if (opts && typeof opts.servername === 'string' && isIP(opts.servername) !== 0) delete opts.servername;
      return connector;
    };
  }
}

// etcd3 counts every stream error as the host failing, and for errors it deems "recoverable" (CANCELLED
// among them) closes all of that host's gRPC clients, dropping every stream on the connection: the
// watches, the election's, the lease keepalives. When the last watch of a watch stream is cancelled, etcd3
// cancels the stream itself and then takes its own CANCELLED for a failure of the member. With a stream per
// followed watch (Store.watch ownStream), every re-list would thus drop the whole connection a moment later
// (`watch disconnected: Connection dropped` after each gap, then a second re-list). A CANCELLED stream is one
// this process ended; it says nothing about the member, so it is not passed on (keepChannelsOpen already
// keeps the channel open on any error; this keeps our own cancels off the member's breaker too).
function ignoreOwnCancels(client: Etcd3): void {
  const pool = (client as unknown as { pool: { markFailed(resource: unknown, error: Error): void } }).pool;
  const markFailed = pool.markFailed.bind(pool);
  pool.markFailed = (resource, error) => {
    if (error instanceof GRPCCancelledError || (error as { code?: unknown }).code === GRPC_CANCELLED) return;
    markFailed(resource, error);
  };
}

// gRPC status code CANCELLED, as grpc-js reports it on a stream error before etcd3 casts it.
const GRPC_CANCELLED = 1;
