// A deadline for calls that may never answer (a hung etcd member): the caller moves on, the call is left
// to fail on its own, and no timer outlives the race.
import { EtcdUnavailableError } from '../errors.js';

/** Reject with EtcdUnavailableError when `p` does not settle within `ms` (the call itself is left to fail). */
export function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EtcdUnavailableError(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
