// `beacon doctor`: check a node's config, its etcd, its permissions and its agent; one line per finding
// with how to fix it. Exit 0 when nothing failed, 1 otherwise (2 for usage).
import { ExitCode, type Command } from '../command.js';
import { clientConfig, commandConfig } from '../load-config.js';
import { formatConfigError } from '../../config/load.js';
import { Store } from '../../etcd/store.js';
import { runDoctor } from '../../doctor/run.js';
import { failed, ok, type Finding } from '../../doctor/types.js';
import type { AgentConfig } from '../../config/types.js';
import type { EtcdConfig } from '../../etcd/options.js';
import { MAX_KEEPALIVE_TIMEOUT_MS } from '../../config/node.js';
import { tlsCredentials, usesTls } from '../../etcd/tls.js';
import { renderData, renderTable, useColour, type Column } from '../output.js';

const MARK: Record<Finding['status'], string> = { ok: '✓', warning: '!', failed: '✗' };

const COLUMNS: Column<Finding>[] = [
  { header: '', get: (f) => MARK[f.status], tone: (f) => (f.status === 'ok' ? 'good' : f.status === 'warning' ? 'warn' : 'bad') },
  { header: 'CHECK', get: (f) => f.check },
  { header: 'DETAIL', get: (f) => f.detail },
  { header: 'FIX', get: (f) => f.fix },
];


/** With a bad config: whether the TLS files of its etcd settings read (their problems are config findings already). */
function usableTls(etcd: EtcdConfig): boolean {
  if (!usesTls(etcd)) return true;
  try {
    tlsCredentials(etcd);
    return true;
  } catch {
    return false;
  }
}

/** The `doctor` subcommand. */
export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check this node\'s config, etcd, permissions and agent, saying how to fix each problem',
  usage: 'beacon doctor -c FILE [-o table|json]',
  options: {},
  maxArgs: 1,
  flags: [],
  exits: { failure: 'a check failed (each finding says how to fix it)', usage: 'bad -o' },
  examples: ['beacon doctor -c /etc/beacon/agent.yaml'],
  async run(ctx) {
    const format = ctx.values.output ?? 'table';
    if (format !== 'table' && format !== 'json') {
      ctx.stderr.write(`beacon doctor: -o must be table or json, not ${JSON.stringify(format)}\n`);
      return ExitCode.usage;
    }
    const file = ctx.values.config ?? ctx.positionals[0];
    const paths = { stateDir: '/var/lib/beacon', kmsg: '/dev/kmsg' };
    let findings: Finding[];
    if (typeof file !== 'string') {
      findings = [failed('config', 'no config file given', 'run beacon doctor -c /etc/beacon/agent.yaml')];
    } else {
      let config: AgentConfig | undefined;
      let etcd: EtcdConfig | undefined;
      const head: Finding[] = [];
      try {
        // Exactly what the agent loads (src/cli/load-config.ts): the same problems, all of them.
        config = await commandConfig(ctx, file);
        etcd = config.etcd;
        head.push(ok('config', `${file}: node ${config.node.name}, ${config.services.length} services`));
      } catch (err) {
        const lines = formatConfigError(err, file).split('\n').slice(1).map((l) => l.trim());
        head.push(...lines.map((l) => failed('config', l, `fix ${file}; beacon validate ${file} lists the same problems`)));
        // etcd is still worth asking when its own settings (flags, environment, the file's etcd section) are usable.
        etcd = await clientConfig(ctx, file).then(
          (c) => c.etcd,
          () => undefined,
        );
        if (etcd && !usableTls(etcd)) etcd = undefined;
      }
      if (!etcd) {
        findings = [...head, failed('etcd', 'not checked: the etcd settings have errors', 'fix the config findings above')];
      } else {
        const store = Store.connect(etcd);
        try {
          const keepaliveTimeoutMs = config?.node.keepaliveTimeoutMs ?? MAX_KEEPALIVE_TIMEOUT_MS;
          findings = [...head, ...(await runDoctor({ ...(config ? { config } : {}), etcd, keepaliveTimeoutMs, store, measured: {}, paths }, ctx.signal))];
        } finally {
          store.close();
        }
      }
    }
    // Findings quote etcd, files and records: renderTable and renderData escape every control character.
    const shown = findings;
    ctx.stdout.write(format === 'json' ? renderData('json', shown) : renderTable(COLUMNS, shown, { colour: useColour(ctx.stdout, ctx.env), maxCellWidth: Infinity }));
    return findings.some((f) => f.status === 'failed') ? ExitCode.failure : ExitCode.ok;
  },
};
