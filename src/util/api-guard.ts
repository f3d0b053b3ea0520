// Who may call the agent's local API. Its callers are `beacon check`, `beacon maint`, curl and apps:
// never a browser. A web page can still reach a loopback port: a form or `fetch(..., {mode:
// 'no-cors'})` sends a "simple" cross-site POST (text/plain, no preflight) that would put the node
// into maintenance; a DNS-rebound name reaches it as if same-origin. So, before anything is read:
// - any request carrying `Origin` or `Sec-Fetch-Site` is refused (403): only browsers send them, and
//   browsers send `Origin` on every cross-site POST/PUT and `Sec-Fetch-Site` on every request;
// - on a loopback port, a `Host` that is not a loopback address is refused (403): DNS rebinding;
// - with a token configured, a request without `Authorization: Bearer <token>` is refused (401):
//   every local user can reach a loopback port, and a socket's group may be wider than wanted;
// - on a loopback port, a PUT/POST whose Content-Type is not application/json is refused (415): a
//   browser cannot send that cross-site without a preflight the API never answers. (A unix socket
//   is out of a browser's reach, and its callers predate the rule: it keeps accepting them.)
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';

/** What one listener enforces. */
export interface GuardPolicy {
  /** Listening on a loopback port (not a unix socket): Host and Content-Type are checked too. */
  tcp: boolean;
  /** The bearer token callers must send, if one is configured. */
  token?: string;
}

/** A refusal: the status, the reason sent back, and extra headers. */
export interface Refusal {
  code: 401 | 403 | 415;
  error: string;
  headers?: Record<string, string>;
}

const LOOPBACK_HOST = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(?::\d{1,5})?$/i;

/** Why a request must be refused before its route is even looked at (routing and body come later), or undefined. */
export function refuseEarly(req: http.IncomingMessage, policy: GuardPolicy): Refusal | undefined {
  if (req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined) {
    return { code: 403, error: 'requests from web browsers are refused (Origin or Sec-Fetch-Site header present)' };
  }
  if (policy.tcp && !LOOPBACK_HOST.test(req.headers.host ?? '')) {
    return { code: 403, error: 'the Host header must name a loopback address, such as 127.0.0.1:PORT' };
  }
  if (policy.token !== undefined && !bearerMatches(req.headers.authorization, policy.token)) {
    return {
      code: 401,
      error: 'missing or wrong token: send Authorization: Bearer <token> (api.token or api.tokenFile in the agent config)',
      headers: { 'www-authenticate': 'Bearer realm="beacon-agent"' },
    };
  }
  return undefined;
}

/** Why a state-changing request must be refused for its Content-Type, or undefined. */
export function refuseContentType(req: http.IncomingMessage, policy: GuardPolicy): Refusal | undefined {
  if (!policy.tcp) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return undefined;
  return { code: 415, error: 'Content-Type must be application/json' };
}

/**
 * Whether an Authorization header carries `Bearer <token>`. Compared in constant time: both sides are
 * hashed first, so neither the token's length nor its prefix shows in how long a refusal takes.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer +(\S+) *$/i.exec(header ?? '');
  const sent = createHash('sha256').update(m ? m[1]! : '').digest();
  const want = createHash('sha256').update(token).digest();
  return timingSafeEqual(sent, want) && m !== null;
}

/** Run `answer` once the request body has arrived, discarding it unread: answering before it has arrived resets the connection. */
export function afterBody(req: http.IncomingMessage, answer: () => void): void {
  req.resume();
  if (req.readableEnded) answer();
  else req.once('end', answer);
}
