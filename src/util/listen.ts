// A TCP address to serve HTTP on, as the config gives it and as the servers print it.

/** A TCP address to serve HTTP on; port 0 picks a free port (logged at start). */
export interface ListenAddress {
  host: string;
  port: number;
}

/** `HOST:PORT` as a URL authority (IPv6 in brackets). */
export function formatListen(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
