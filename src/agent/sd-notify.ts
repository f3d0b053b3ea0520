// systemd's notify protocol (READY=1, WATCHDOG=1, STOPPING=1) for Type=notify units.
// Node cannot send on a unix datagram socket, so the message goes through `systemd-notify`
// (hence NotifyAccess=all in the unit). Without NOTIFY_SOCKET every call is a no-op.
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

/** Sends notify messages for this process; a no-op outside systemd. */
export class SdNotify {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
  ) {}

  /** Whether a notify socket was handed to us. */
  get enabled(): boolean {
    return Boolean(this.env.NOTIFY_SOCKET);
  }

  /** Send one or more `KEY=VALUE` assignments; failures are logged, never thrown. */
  send(...assignments: string[]): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    return new Promise((resolve) => {
      // --pid names us as the sender, so systemd attributes the message to the main process.
      execFile('systemd-notify', [`--pid=${process.pid}`, ...assignments], { env: this.env, timeout: 5_000 }, (err) => {
        if (err) this.log.warn({ err, assignments }, 'systemd-notify failed');
        resolve();
      });
    });
  }

  /** READY=1, then watchdog pings at half of WATCHDOG_USEC from the event loop until `stop`. */
  async ready(status: string): Promise<void> {
    await this.send('--ready', `--status=${status}`);
    const usec = Number(this.env.WATCHDOG_USEC);
    const pidOk = !this.env.WATCHDOG_PID || Number(this.env.WATCHDOG_PID) === process.pid;
    if (this.enabled && usec > 0 && pidOk) {
      // A blocked event loop stops the pings: that is exactly what the watchdog is for.
      this.timer = setInterval(() => void this.send('WATCHDOG=1'), Math.max(1_000, usec / 2_000));
      this.timer.unref();
    }
  }

  /** Stop watchdog pings and tell systemd we are stopping. */
  async stopping(): Promise<void> {
    clearInterval(this.timer);
    await this.send('STOPPING=1');
  }
}
