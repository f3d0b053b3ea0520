// "Did this node leave?", decided once for every reader (the registry's views, the watcher's model and
// its classifier): a registration ended gracefully only if the node's identity carries a leave marker
// naming that very registration's lease. A marker left by an earlier registration says nothing about a
// later one, which may have failed.
import type { NodeIdentity } from '../types.js';

/** Whether the registration with `lease` ended by a graceful leave, by the identity's leave marker. */
export function leftGracefully(identity: Pick<NodeIdentity, 'left'> | undefined, lease: string | undefined): boolean {
  return identity?.left != null && lease !== undefined && lease !== '' && identity.left.lease === lease;
}
