// How beacon reaches etcd: the settings src/config/etcd.ts reads (flags, environment, file) and the
// client, TLS and auth code of this folder connects with.

/** How to reach etcd (shared by agent, watcher and CLI). */
export interface EtcdConfig {
  endpoints: string[];
  /** PEM file paths for TLS; all optional. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  username?: string;
  password?: string;
  /** Deadline of one unary request (default 2000 ms). */
  requestTimeoutMs: number;
  /** Time allowed to establish a connection (default 2000 ms). */
  dialTimeoutMs: number;
}
