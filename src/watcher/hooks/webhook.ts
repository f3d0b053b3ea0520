// webhook hooks: POST the event as JSON. 2xx is success; anything else (or no answer in time) is a failure.
import type { WebhookHookConfig } from '../../config/watcher.js';
import { OUTPUT_CAP_BYTES, OutputCapture } from '../../util/output.js';
import { payload, type HookRunner } from './hook.js';

/** Runs webhook hooks. */
export const webhookHook: HookRunner<WebhookHookConfig> = {
  async run(cfg, inv, signal) {
    const started = performance.now();
    const deadline = AbortSignal.timeout(cfg.timeoutMs);
    const elapsed = () => Math.round(performance.now() - started);
    const out = new OutputCapture(OUTPUT_CAP_BYTES);
    try {
      const res = await fetch(cfg.url, {
        method: 'POST',
        headers: {
          ...cfg.headers,
          'content-type': 'application/json',
          'idempotency-key': inv.event.id,
          'x-beacon-event': inv.event.event,
          'x-beacon-node': inv.event.node,
          'x-beacon-attempt': String(inv.attempt),
        },
        body: payload(inv),
        signal: AbortSignal.any([signal, deadline]),
        redirect: 'manual',
      });
      // Stop reading well past the cap: a huge or endless body must not hold the attempt.
      const reader = res.body?.getReader();
      if (reader) {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          out.write(Buffer.from(value));
          if (out.total > OUTPUT_CAP_BYTES * 4) {
            await reader.cancel().catch(() => undefined);
            break;
          }
        }
      }
      const ok = res.status >= 200 && res.status < 300;
      return {
        state: ok ? 'ok' : 'failed',
        durationMs: elapsed(),
        output: out.text(),
        httpStatus: res.status,
        ...(ok ? {} : { error: `HTTP ${res.status}` }),
      };
    } catch (err) {
      const timedOut = deadline.aborted && !signal.aborted;
      return {
        state: timedOut ? 'timeout' : 'failed',
        durationMs: elapsed(),
        output: out.text(),
        error: timedOut ? `timed out after ${cfg.timeoutMs} ms` : signal.aborted ? 'interrupted' : describe(err),
      };
    }
  },
};

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ? `${e.message}: ${e.cause.code}` : (e.message ?? String(err));
}
