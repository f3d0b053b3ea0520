// The cluster behind the endpoints, as `etcdctl member list` and `endpoint status` show it: each member's
// client URL answers, its version, who it says leads; endpoints that are no member's client URL. The
// list comes through the store (only src/etcd/ speaks gRPC); each member is then asked over its HTTP
// gateway, as the endpoint checks ask /version.
import { ask, explain } from './endpoint.js';
import { failed, ok, warning, type DoctorCheck, type Finding } from './types.js';

const norm = (url: string) => url.toLowerCase().replace(/\/+$/, '');

/** One finding per member, and a finding for the endpoints and the leader. */
export const members: DoctorCheck = async (ctx, signal) => {
  const cfg = ctx.etcd;
  let list;
  try {
    list = await ctx.store.members();
  } catch (err) {
    return [failed('etcd members', `cannot list the members: ${(err as Error).message}`, 'see the etcd findings above')];
  }
  const out: Finding[] = [];
  const clientURLs = new Set(list.flatMap((m) => m.clientURLs.map(norm)));
  const strangers = cfg.endpoints.filter((e) => !clientURLs.has(norm(e)));
  out.push(
    strangers.length > 0
      ? warning(
          'etcd endpoints',
          `${strangers.join(', ')} ${strangers.length === 1 ? 'is' : 'are'} not a member's client URL (members advertise ${[...clientURLs].join(', ') || 'none'})`,
          'list the members\' client URLs (etcdctl member list) in etcd.endpoints: a proxy or an old address hides which member answers, and a member missing from the list cannot take over',
        )
      : ok('etcd endpoints', `each is a member's client URL (${list.length} members)`),
  );
  const timeoutMs = Math.max(cfg.dialTimeoutMs + cfg.requestTimeoutMs, 1000);
  const leaders = new Set<string>();
  let down = 0;
  for (const m of list) {
    const name = `etcd member ${m.name || m.id}`;
    const url = m.clientURLs[0];
    if (!url) {
      out.push(warning(name, `member ${m.id} has not started (no client URL)`, `start it, or remove it: etcdctl member remove ${m.id}`));
      down++;
      continue;
    }
    try {
      const a = await ask(url, cfg, timeoutMs, signal, '/v3/maintenance/status', '{}');
      const st = JSON.parse(a.body) as { version?: string; leader?: string; header?: { member_id?: string } };
      if (a.status !== 200 || !st.version) throw new Error(`answered HTTP ${a.status}`);
      // uint64 ids come as decimal strings; a member without a leader omits the field (zero).
      const leader = st.leader ? BigInt(st.leader).toString(16) : '';
      leaders.add(leader);
      const self = st.header?.member_id ? BigInt(st.header.member_id).toString(16) : m.id;
      out.push(
        leader
          ? ok(name, `${url}: etcd ${st.version}, ${leader === self ? 'the leader' : `follows ${leader}`}, ${a.rttMs} ms`)
          : warning(name, `${url}: etcd ${st.version} has no leader`, 'the cluster lost quorum or is electing: check that most members run and reach each other (peer URLs)'),
      );
    } catch (err) {
      down++;
      const { detail } = err instanceof SyntaxError || (err as Error).message.startsWith('answered') ? { detail: `${url}: ${(err as Error).message}` } : explain(err, url, timeoutMs);
      out.push(warning(name, `unreachable: ${detail}`, `the cluster keeps working while most members answer: restart member ${m.name || m.id}, or remove it (etcdctl member remove ${m.id})`));
    }
  }
  const known = [...leaders].filter(Boolean);
  if (known.length > 1) {
    out.push(warning('etcd leader', `members disagree on the leader (${known.join(', ')})`, 'an election is under way or the network is split: run beacon doctor again, and check the members\' peer links'));
  } else if (down > 0 && down * 2 >= list.length) {
    out.push(failed('etcd leader', `${down} of ${list.length} members do not answer: the cluster has no quorum`, 'restart the stopped members: etcd needs a majority to write'));
  }
  return out;
};
