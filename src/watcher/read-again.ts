// The leader's reads (and its revoke of a lease etcd left behind) are repeated at once when etcd does not
// answer: repeating them changes nothing, each call may reach another member, and a dead member refuses
// at once, so a pause between tries would only delay the leader.
import { isRetryable } from '../errors.js';

/** `read()`, tried up to `attempts` times while etcd does not answer; any other error is thrown at once. */
export async function readAgain<T>(read: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await read();
    } catch (err) {
      if (i >= attempts || !isRetryable(err)) throw err;
    }
  }
}
