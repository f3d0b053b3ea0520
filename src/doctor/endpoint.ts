// Each etcd endpoint over its HTTP API (GET /version on the client URL, as `curl` would): reachable,
// round trip against the keepalive deadline, etcd's version, the TLS handshake, the server certificate's
// expiry and the clock skew from the response's Date header. No etcd3 here: gRPC hides all of these.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { EtcdConfig } from '../etcd/options.js';
import { tlsCredentials, usesTls } from '../etcd/tls.js';
import { failed, ok, warning, type DoctorCheck, type Finding } from './types.js';

/** etcd releases with the lease revocation fix docs/install.md names. */
const FIXED = { '3.4': 28, '3.5': 11 } as Record<string, number>;
const CERT_WARN_DAYS = 30;
const DAY_MS = 86_400_000;
/** A Date header has whole seconds: a skew under 2 s is that rounding. */
const SKEW_WARN_MS = 2000;

export interface Answer {
  status: number;
  body: string;
  date?: string;
  rttMs: number;
  /** Local time half way through the request, to compare with the server's Date. */
  midMs: number;
  peerCertValidTo?: string;
}

/** One HTTP request to an etcd client URL (GET /version, or a POST to the JSON gateway's `path` with `body`). */
export function ask(url: string, cfg: EtcdConfig, timeoutMs: number, signal: AbortSignal, path = '/version', body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tls = url.startsWith('https:');
    const creds = tls ? tlsCredentials(cfg) : undefined;
    const opts = {
      method: body === undefined ? 'GET' : 'POST',
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      ...(creds ? { ca: creds.rootCertificate, cert: creds.certChain, key: creds.privateKey } : {}),
    };
    const req = (tls ? httpsRequest : httpRequest)(`${url}${path}`, opts, (res) => {
      const socket = res.socket as TLSSocket;
      const peer = tls ? socket.getPeerCertificate?.() : undefined;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d; // etcd's answer is ~50 bytes; a proxy's page is not ours to keep
      });
      res.on('end', () => {
        const now = Date.now();
        resolve({
          status: res.statusCode ?? 0,
          body,
          ...(typeof res.headers.date === 'string' ? { date: res.headers.date } : {}),
          rttMs: now - started,
          midMs: (now + started) / 2,
          ...(peer?.valid_to ? { peerCertValidTo: peer.valid_to } : {}),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Why a request failed, in an operator's words, and what to do. */
export function explain(err: unknown, url: string, timeoutMs: number): { detail: string; fix: string } {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = e.code ?? e.name;
  if (code === 'ECONNREFUSED') return { detail: `${url}: connection refused`, fix: 'nothing listens there: check etcd.endpoints (or --etcd, $ETCDCTL_ENDPOINTS) and that etcd runs' };
  if (code === 'ABORT_ERR' || code === 'TimeoutError' || code === 'ETIMEDOUT') {
    return { detail: `${url}: no answer within ${timeoutMs} ms`, fix: 'etcd accepts connections but does not answer (hung, overloaded or a firewall dropping packets): check the etcd process and its logs' };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { detail: `${url}: host name does not resolve`, fix: 'check etcd.endpoints and DNS' };
  if (code === 'CERT_HAS_EXPIRED') {
    return { detail: `${url}: etcd's certificate has expired (TLS handshake refused)`, fix: 'renew etcd\'s server certificate (openssl x509 -noout -dates -in the server cert shows its dates)' };
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|SSL|alert/i.test(`${code} ${e.message}`)) {
    return {
      detail: `${url}: TLS handshake failed (${code}${e.reason ? `: ${e.reason}` : ''})`,
      fix: 'etcd.caFile must hold the CA that signed etcd\'s certificate (and etcd.certFile/keyFile one etcd trusts); check the dates with openssl x509 -noout -dates',
    };
  }
  if (code === 'ECONNRESET' || code === 'EPROTO') return { detail: `${url}: connection reset (${code})`, fix: 'a TLS endpoint named http://, or the reverse? check the scheme in etcd.endpoints' };
  return { detail: `${url}: ${code ?? 'failed'}: ${e.message}`, fix: 'check etcd.endpoints and the network path to etcd' };
}

/** Findings for one endpoint. */
export async function checkEndpoint(url: string, ctx: Parameters<DoctorCheck>[0], signal: AbortSignal): Promise<Finding[]> {
  const cfg = ctx.etcd;
  const name = `etcd ${url}`;
  const timeoutMs = Math.max(cfg.dialTimeoutMs + cfg.requestTimeoutMs, 1000);
  let a: Answer;
  try {
    a = await ask(url, cfg, timeoutMs, signal);
  } catch (err) {
    const { detail, fix } = explain(err, url, timeoutMs);
    return [failed(name, detail, fix)];
  }
  const out: Finding[] = [];
  ctx.measured.rttMs = Math.max(ctx.measured.rttMs ?? 0, a.rttMs);
  const version = /"etcdserver"\s*:\s*"(\d+)\.(\d+)\.(\d+)/.exec(a.body);
  if (a.status !== 200 || !version) {
    return [failed(name, `${url}: answered HTTP ${a.status}, not etcd's /version`, 'etcd.endpoints must be etcd client URLs (port 2379 by default)')];
  }
  out.push(roundTrip(`${name} round trip`, a.rttMs, ctx.keepaliveTimeoutMs, cfg.requestTimeoutMs));
  const [, major, minor, patch] = version.map(Number) as [number, number, number, number];
  const v = `${major}.${minor}.${patch}`;
  const fixedPatch = FIXED[`${major}.${minor}`];
  const old = (major === 3 && minor < 4) || (fixedPatch !== undefined && patch < fixedPatch);
  out.push(
    old
      ? warning(`${name} version`, `etcd ${v}: before 3.4.28 / 3.5.11, expired leases may not be revoked in time`, 'upgrade etcd (docs/install.md)')
      : ok(`${name} version`, `etcd ${v}`),
  );
  if (url.startsWith('https:')) {
    out.push(ok(`${name} TLS`, 'handshake with etcd.caFile' + (cfg.certFile ? ' and the client certificate' : '')));
    if (a.peerCertValidTo) out.push(expiry(`${name} server certificate`, Date.parse(a.peerCertValidTo), 'ask etcd\'s operator to renew its certificate'));
  }
  if (a.date) {
    const skew = a.midMs - Date.parse(a.date) - 500; // the header truncates to the second: half a second on average
    out.push(
      Math.abs(skew) > SKEW_WARN_MS
        ? warning(`${name} clock`, `this host's clock is ${(skew / 1000).toFixed(1)} s ${skew > 0 ? 'ahead of' : 'behind'} etcd's`, 'run NTP (chronyd, systemd-timesyncd): timestamps in records and events will not agree')
        : ok(`${name} clock`, `within ${SKEW_WARN_MS / 1000} s of etcd's`),
    );
  }
  return out;
}

/** Past this share of a deadline, one slow moment more makes a request miss it: a warning. */
export const RTT_WARN_SHARE = 0.5;

/**
 * The round trip against the tighter of the keepalive deadline (node.keepaliveTimeout) and the request
 * deadline (etcd.requestTimeout): failed over it, a warning over RTT_WARN_SHARE of it.
 */
export function roundTrip(check: string, rttMs: number, keepaliveTimeoutMs: number, requestTimeoutMs: number): Finding {
  const [deadline, setting] =
    keepaliveTimeoutMs <= requestTimeoutMs ? [keepaliveTimeoutMs, 'node.keepaliveTimeout'] : [requestTimeoutMs, 'etcd.requestTimeout'];
  const what = setting === 'node.keepaliveTimeout' ? 'keepalive deadline' : 'request deadline';
  if (rttMs > deadline) {
    return failed(check, `${rttMs} ms, more than the ${what} of ${deadline} ms (${setting})`, `every request would time out: raise ${setting} (and node.ttl), or use a closer etcd`);
  }
  if (rttMs > deadline * RTT_WARN_SHARE) {
    return warning(check, `${rttMs} ms, over ${RTT_WARN_SHARE * 100} % of the ${what} of ${deadline} ms (${setting})`, `raise ${setting}, or use a closer etcd`);
  }
  return ok(check, `${rttMs} ms (${what} ${deadline} ms, ${setting})`);
}

/** A certificate's expiry: failed when past, warning under 30 days. */
export function expiry(check: string, validToMs: number, fix: string): Finding {
  const days = Math.floor((validToMs - Date.now()) / DAY_MS);
  if (validToMs <= Date.now()) return failed(check, `expired on ${new Date(validToMs).toISOString()}`, fix);
  if (days < CERT_WARN_DAYS) return warning(check, `expires in ${days} days (${new Date(validToMs).toISOString()})`, fix);
  return ok(check, `valid until ${new Date(validToMs).toISOString()}`);
}

/** Every endpoint, and the client certificate's own expiry. */
export const endpoints: DoctorCheck = async (ctx, signal) => {
  const out: Finding[] = [];
  const cfg = ctx.etcd;
  if (usesTls(cfg) && cfg.certFile) {
    try {
      const cert = new X509Certificate(tlsCredentials(cfg).certChain!);
      out.push(expiry('etcd client certificate', Date.parse(cert.validTo), `renew ${cfg.certFile}`));
    } catch {
      // the config check has reported the file already
    }
  }
  for (const url of cfg.endpoints) out.push(...(await checkEndpoint(url, ctx, signal)));
  return out;
};
