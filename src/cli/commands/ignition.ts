// `beacon ignition`: print the Ignition config that installs beacon on a Fedora CoreOS or Flatcar host.
import { readFile } from 'node:fs/promises';
import { ExitCode, type Command, type CommandContext } from '../command.js';
import { reportConfigError } from '../report.js';
import { parseAgentConfig, parseClientConfig, readConfigFile } from '../../config/load.js';
import { ConfigError } from '../../errors.js';
import { IGNITION_SPECS, flavors, generateIgnition, type IgnitionSpec, type OsFlavor, type TlsFiles } from '../../ignition/generate.js';
import { loadUnitFiles } from '../../ignition/unit-files.js';

const USAGE = `beacon ignition --config agent.yaml --artifact-url URL --artifact-sha512 HEX
    [--spec ${IGNITION_SPECS.join('|')}] [--flavor ${Object.keys(flavors).join('|')}] [--merge existing.ign]
    [--ca-file ca.pem] [--cert-file client.pem --key-file client-key.pem] [--watcher [--watcher-config watcher.yaml]]`;

/** The `ignition` subcommand. */
export const ignitionCommand: Command = {
  name: 'ignition',
  summary: 'print an Ignition config that installs beacon on Fedora CoreOS or Flatcar',
  usage: USAGE,
  options: {
    'artifact-url': { type: 'string' },
    'artifact-sha512': { type: 'string' },
    spec: { type: 'string' },
    flavor: { type: 'string' },
    merge: { type: 'string' },
    'ca-file': { type: 'string' },
    'cert-file': { type: 'string' },
    'key-file': { type: 'string' },
    watcher: { type: 'boolean' },
    'watcher-config': { type: 'string' },
  },
  maxArgs: 0,
  flags: [
    ['--artifact-url URL', 'where the host fetches beacon.gz (http, https, s3, gs, tftp)'],
    ['--artifact-sha512 HEX', 'sha512 of the decompressed executable (the first word of beacon.sha512)'],
    ['--spec V', `Ignition spec version of the output (${IGNITION_SPECS.join(', ')}; default 3.3.0)`],
    ['--flavor F', 'fcos: /usr/local/bin and afterburn; flatcar: /opt/bin and coreos-metadata (default fcos)'],
    ['--merge FILE', 'add beacon to this Ignition config (JSON) instead of starting from an empty one'],
    ['--ca-file FILE', 'etcd CA bundle, installed root-only and handed to the units with LoadCredential='],
    ['--cert-file FILE', 'etcd client certificate (with --key-file), installed the same way'],
    ['--key-file FILE', 'etcd client key (with --cert-file), installed the same way'],
    ['--watcher', 'also install and enable beacon-watcher.service'],
    ['--watcher-config FILE', "the watcher's config (default: the agent config)"],
  ],
  exits: { usage: 'a missing flag or an invalid config or file (the message names it)' },
  examples: ['beacon ignition --config agent.yaml --artifact-url https://example.com/beacon.gz --artifact-sha512 "$(cut -d" " -f1 beacon.sha512)" > node.ign'],
  async run(ctx) {
    try {
      ctx.stdout.write(`${JSON.stringify(await build(ctx), null, 2)}\n`);
      return ExitCode.ok;
    } catch (err) {
      return reportConfigError(ctx, err);
    }
  },
};

async function build(ctx: CommandContext) {
  const v = ctx.values;
  const str = (name: string): string | undefined => (typeof v[name] === 'string' ? (v[name] as string) : undefined);
  const required = (name: string): string => {
    const s = str(name);
    if (s === undefined) throw new ConfigError(`--${name}`, undefined, 'is required');
    return s;
  };
  const configPath = required('config');
  const watcherPath = str('watcher-config');
  if (watcherPath !== undefined && v.watcher !== true) throw new ConfigError('--watcher-config', watcherPath, 'needs --watcher');

  // The same checks the agent makes at start, without this machine's environment: a broken config
  // found here costs less than one found by a host at first boot.
  parseAgentConfig(await readConfigFile(configPath), { env: {}, hostname: 'localhost' });
  if (watcherPath !== undefined) parseClientConfig(await readConfigFile(watcherPath), { env: {} });

  const tls: TlsFiles = {};
  for (const [k, flag] of [['ca', 'ca-file'], ['cert', 'cert-file'], ['key', 'key-file']] as const) {
    const path = str(flag);
    if (path !== undefined) tls[k] = await readText(flag, path);
  }
  const mergePath = str('merge');
  let merge: unknown;
  if (mergePath !== undefined) {
    try {
      merge = JSON.parse(await readText('merge', mergePath));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError('--merge', mergePath, `is not JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  const flavor = str('flavor');
  const agentConfig = await readText('config', configPath);
  return generateIgnition({
    spec: str('spec') as IgnitionSpec | undefined,
    flavor: (flavor === 'fedora-coreos' ? 'fcos' : flavor) as OsFlavor | undefined,
    agentConfig,
    artifact: { url: required('artifact-url'), sha512: required('artifact-sha512') },
    tls,
    ...(v.watcher === true ? { watcher: { config: watcherPath === undefined ? agentConfig : await readText('watcher-config', watcherPath) } } : {}),
    units: loadUnitFiles(),
    ...(mergePath !== undefined ? { merge } : {}),
  });
}

async function readText(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--${flag}`, path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}
