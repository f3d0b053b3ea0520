// Shared plumbing for read commands: config → store → run → translate errors to exit codes.
import { Keys } from '../etcd/keys.js';
import { Store } from '../etcd/store.js';
import type { ClientConfig } from '../config/load.js';
import { ExitCode, type CommandContext } from './command.js';
import { clientConfig } from './load-config.js';
import { parseFormat, type Format } from './output.js';
import { reportConfigError, reportRuntimeError } from './report.js';

/** What a read command's body gets. */
export interface StoreContext {
  store: Store;
  keys: Keys;
  config: ClientConfig;
  format: Format;
}

/** Run `body` with a connected store; errors become exit codes (2 config, 4 etcd, 1 other). */
export async function withStore(ctx: CommandContext, body: (s: StoreContext) => Promise<number>): Promise<number> {
  const format = parseFormat(ctx.values.output);
  if (typeof format === 'object') {
    ctx.stderr.write(`${format.error}\n`);
    return ExitCode.usage;
  }
  let config: ClientConfig;
  try {
    config = await clientConfig(ctx);
  } catch (err) {
    return reportConfigError(ctx, err);
  }
  const store = Store.connect(config.etcd);
  try {
    return await body({ store, keys: new Keys(config.prefix), config, format });
  } catch (err) {
    return reportRuntimeError(ctx, err);
  } finally {
    store.close();
  }
}
