// The one root logger: pino JSON lines on stdout (journald keeps them), ISO timestamps.
import { pino, type Logger, type LevelWithSilent } from 'pino';

/** Create the root logger; components take `log.child({ component })`. */
export function createLogger(level: LevelWithSilent = 'info', destination: NodeJS.WritableStream = process.stdout): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Never let a secret reach a log line, wherever it is nested.
      redact: { paths: ['password', '*.password', 'etcd.password', 'config.etcd.password'], censor: '***' },
    },
    destination,
  );
}
