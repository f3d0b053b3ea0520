// The tcp probe: a connection that opens within the timeout is passing; it is closed at once.
import net from 'node:net';
import { formatDuration } from '../util/duration.js';
import { describeTarget } from './spec.js';
import { timedOut, type CheckResult, type Probe, type TcpCheckSpec } from './types.js';

/** Probe a TCP port by connecting to it. */
export const tcpProbe: Probe<TcpCheckSpec> = (spec, signal) =>
  new Promise<CheckResult>((resolve) => {
    const what = `TCP connect ${describeTarget(spec)}`;
    const abortedOutput = () => (timedOut(signal) ? `${what}: timed out after ${formatDuration(spec.timeoutMs)}` : `${what}: cancelled`);
    if (signal.aborted) return resolve({ status: 'critical', output: abortedOutput() });
    const socket = net.connect({ host: spec.host, port: spec.port });
    let settled = false;
    const finish = (r: CheckResult) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(r);
    };
    const onAbort = () => finish({ status: 'critical', output: abortedOutput() });
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish({ status: 'passing', output: `${what}: Success` }));
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ status: 'critical', output: `${what}: ${err.message}` }));
  });
