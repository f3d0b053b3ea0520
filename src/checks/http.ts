// The http/https probe: one request per attempt on a fresh connection (no keep-alive, as Consul
// does, so a wedged server cannot hide behind a pooled socket). 2xx passing, 429 warning, else critical.
import http from 'node:http';
import https from 'node:https';
import { formatDuration } from '../util/duration.js';
import { OUTPUT_CAP_BYTES, OutputCapture } from '../util/output.js';
import { timedOut, type CheckResult, type HttpCheckSpec, type Probe } from './types.js';

/** Map a response status to a check status: expected (or 2xx) passing, 429 warning, anything else critical. */
export function httpStatusToHealth(code: number, expected?: readonly number[]): CheckResult['status'] {
  if (expected ? expected.includes(code) : code >= 200 && code <= 299) return 'passing';
  if (code === 429) return 'warning';
  return 'critical';
}

/** Probe an HTTP(S) URL; the body (first 4 KiB) is part of the output. */
export const httpProbe: Probe<HttpCheckSpec> = (spec, signal) =>
  new Promise<CheckResult>((resolve) => {
    const what = `HTTP ${spec.method} ${spec.url}`;
    const url = new URL(spec.url);
    const tls = url.protocol === 'https:';
    let settled = false;
    const finish = (r: CheckResult) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const failed = (err: unknown) =>
      finish({
        status: 'critical',
        output: timedOut(signal)
          ? `${what}: timed out after ${formatDuration(spec.timeoutMs)}`
          : signal.aborted
            ? `${what}: cancelled`
            : `${what}: ${errText(err)}`,
      });
    const options: https.RequestOptions = {
      method: spec.method,
      headers: { 'User-Agent': 'beacon-health-check', Accept: 'text/plain, text/*, */*', ...spec.headers },
      agent: false,
    };
    if (tls) {
      options.rejectUnauthorized = !spec.tlsSkipVerify;
      if (spec.serverName !== undefined) options.servername = spec.serverName;
    }
    let req: http.ClientRequest;
    try {
      req = (tls ? https : http).request(url, options);
    } catch (err) {
      failed(err);
      return;
    }
    const onAbort = () => req.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) {
      failed(signal.reason);
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', failed);
    req.on('response', (res) => {
      const body = new OutputCapture(OUTPUT_CAP_BYTES);
      const code = res.statusCode ?? 0;
      const done = () => {
        const status = httpStatusToHealth(code, spec.expectedStatus);
        const text = body.text();
        finish({ status, output: `${what}: ${code} ${res.statusMessage ?? ''}`.trimEnd() + (text ? ` Output: ${text}` : '') });
      };
      res.on('data', (chunk: Buffer) => {
        body.write(chunk);
        // Enough for the output: stop reading a large body, but still count what arrived.
        if (body.total > OUTPUT_CAP_BYTES * 4) {
          res.destroy();
          done();
        }
      });
      res.on('end', done);
      res.on('error', (err) => (signal.aborted ? failed(err) : done()));
      res.on('close', () => (signal.aborted ? failed(signal.reason) : done()));
    });
    req.end();
  });

function errText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
