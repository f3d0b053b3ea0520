// The demo's last line of defence: a tiny shell process that outlives the demo if it dies without stopping
// its fleet (SIGKILL, a crash). It reads the process groups and the temp dir to clean up from a pipe; when
// the pipe closes without `done` (the demo is gone, however it died), it ends every group it was told of
// (SIGTERM, SIGKILL a second later) and removes the dir. Ctrl-C and SIGTERM never need it: the demo stops
// its fleet itself, in order, then says `done`.
import { spawn, type ChildProcess } from 'node:child_process';

// dash-compatible; one command per line: `add PID`, `del PID`, `dir PATH`, `done`.
const SCRIPT = `
pids=''
dir=''
while IFS= read -r line; do
  case "$line" in
    add\\ *) pids="$pids \${line#add }" ;;
    del\\ *) keep=''; for p in $pids; do [ "$p" = "\${line#del }" ] || keep="$keep $p"; done; pids=$keep ;;
    dir\\ *) dir=\${line#dir } ;;
    done) exit 0 ;;
  esac
done
for p in $pids; do kill -s TERM -- "-$p" 2>/dev/null; done
sleep 1
for p in $pids; do kill -s KILL -- "-$p" 2>/dev/null; done
if [ -n "$dir" ]; then rm -rf -- "$dir"; fi
`;

/** What a part of the demo tells the reaper about what it starts. */
export interface ProcessTracker {
  /** A process group (a detached child's pid) to end if the demo dies. */
  add(pid: number): void;
  /** That group ended already: its pid may be reused. */
  remove(pid: number): void;
  /** The directory to remove if the demo dies. */
  dir(path: string): void;
}

/** Cleans up after the demo should it die without doing so. */
export class Reaper implements ProcessTracker {
  private readonly proc: ChildProcess;
  readonly exited: Promise<void>;

  constructor() {
    // Its own group: a Ctrl-C aimed at the demo must not end it before the demo is done.
    this.proc = spawn('/bin/sh', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    // Written after it died (it never should): nothing more it could do.
    this.proc.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', () => resolve());
      this.proc.once('error', () => resolve());
    });
  }

  /** Its pid. */
  get pid(): number {
    return this.proc.pid ?? -1;
  }

  add(pid: number): void {
    this.send(`add ${pid}`);
  }

  remove(pid: number): void {
    this.send(`del ${pid}`);
  }

  dir(path: string): void {
    this.send(`dir ${path}`);
  }

  /** Everything was cleaned up: exit without touching anything. */
  async done(): Promise<void> {
    this.send('done');
    this.proc.stdin!.end();
    await this.exited;
  }

  private send(line: string): void {
    if (this.proc.stdin!.writable) this.proc.stdin!.write(`${line}\n`);
  }
}
