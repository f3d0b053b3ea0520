// Build the etcd3 client the way beacon needs it: no hidden retries or circuit breakers, gRPC
// keepalive so a hung member is noticed, and TLS/auth from config.
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import { noop } from 'cockatiel';
import type { EtcdConfig } from '../config/types.js';

// etcd refuses pings closer than 5 s apart (--grpc-keepalive-min-time); stay above it.
const GRPC_KEEPALIVE_MS = 6_000;
const GRPC_KEEPALIVE_TIMEOUT_MS = 2_000;

/** etcd3 client options for a config: every call fails fast, beacon owns retries and deadlines. */
export function clientOptions(cfg: EtcdConfig): IOptions {
  const opts: IOptions = {
    hosts: cfg.endpoints,
    dialTimeout: cfg.dialTimeoutMs,
    // The default per-host circuit breaker refuses every call for 5 s after 3 failures, and the
    // default global retry hides outages from our own deadline logic: beacon retries itself.
    faultHandling: { host: () => noop, global: noop },
    grpcOptions: {
      'grpc.keepalive_time_ms': GRPC_KEEPALIVE_MS,
      'grpc.keepalive_timeout_ms': GRPC_KEEPALIVE_TIMEOUT_MS,
      // Pings without an open stream count as abuse on etcd's side (PermitWithoutStream=false).
      'grpc.keepalive_permit_without_calls': 0,
      // gRPC's reconnect backoff grows to 120 s by default; the agent must be back within
      // seconds of etcd answering again.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 1_000,
    },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + cfg.requestTimeoutMs }),
  };
  if (cfg.caFile || cfg.certFile) {
    opts.credentials = {
      rootCertificate: readFileSync(cfg.caFile ?? '/etc/ssl/certs/ca-certificates.crt'),
      ...(cfg.certFile ? { certChain: readFileSync(cfg.certFile) } : {}),
      ...(cfg.keyFile ? { privateKey: readFileSync(cfg.keyFile) } : {}),
    };
  }
  if (cfg.username) {
    opts.auth = { username: cfg.username, password: cfg.password ?? '' };
  }
  return opts;
}

/** A new etcd3 client for a config. */
export function createClient(cfg: EtcdConfig): Etcd3 {
  return new Etcd3(clientOptions(cfg));
}
