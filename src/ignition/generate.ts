// `beacon ignition`: the Ignition config that installs beacon on a CoreOS-family host at first boot.
// Pure: every input (config text, PEM texts, unit texts, an existing config) is passed in.
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { mergeIgnition } from './merge.js';
import type { IgnitionConfig, IgnitionFile, IgnitionUnit, OsFlavor } from './types.js';

export type { OsFlavor } from './types.js';
import type { UnitFiles } from './unit-files.js';

/** Ignition spec versions beacon emits: 3.3.0 is what Ignition 2.14 and current Flatcar accept. */
export const IGNITION_SPECS = ['3.3.0', '3.4.0'] as const;
/** An Ignition spec version beacon emits. */
export type IgnitionSpec = (typeof IGNITION_SPECS)[number];
/** The default spec version. */
export const DEFAULT_IGNITION_SPEC: IgnitionSpec = '3.3.0';

/** What differs between the flavours. */
export interface FlavorSpec {
  /** Human name, for help text. */
  title: string;
  /** Where the executable goes: a writable directory on PATH (/usr is read-only on both). */
  binDir: string;
}

/** Per-flavour facts; the metadata drop-in text comes from UnitFiles.metadataDropIns. */
export const flavors = {
  fcos: { title: 'Fedora CoreOS', binDir: '/usr/local/bin' },
  flatcar: { title: 'Flatcar Container Linux', binDir: '/opt/bin' },
} as const satisfies Record<OsFlavor, FlavorSpec>;

/** Where beacon's files land on the host; the units in units/ name the same paths. */
export const HOST_PATHS = {
  agentConfig: '/etc/beacon/agent.yaml',
  watcherConfig: '/etc/beacon/watcher.yaml',
  ca: '/etc/beacon/tls/ca.pem',
  cert: '/etc/beacon/tls/client.pem',
  key: '/etc/beacon/tls/client-key.pem',
} as const;

/** The binary path the shipped units name; the generator moves it per flavour. */
export const UNIT_BINARY = '/usr/local/bin/beacon';

/** File modes, as the decimal numbers Ignition's JSON wants. */
export const MODES = { secret: 0o600, executable: 0o755 } as const;

/** Drop-in file names (sorted: metadata ordering first, then TLS). */
export const DROPIN_NAMES = { metadata: '10-metadata.conf', tls: '20-tls.conf' } as const;

/**
 * The static system user the units run as (their User=beacon). Without it systemd allocates a dynamic
 * user, and dbus-daemon refuses dynamic users: the agent's `systemd` health check (systemctl show over
 * D-Bus) would fail. No home, no login.
 */
export const SERVICE_USER = { name: 'beacon', system: true, noCreateHome: true, homeDir: '/', shell: '/sbin/nologin', gecos: 'beacon node agent' } as const;

/** PEM texts for etcd client TLS; each optional (a CA alone is server-only TLS). */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

/** Everything the generator needs. */
export interface IgnitionOptions {
  /** Spec version of the output (default 3.3.0). */
  spec?: IgnitionSpec;
  /** OS flavour (default fcos). */
  flavor?: OsFlavor;
  /** The agent config file's text (YAML or JSON), written to /etc/beacon/agent.yaml. */
  agentConfig: string;
  /** The gzip-compressed executable Ignition fetches, and the sha512 (hex) of the decompressed file. */
  artifact: { url: string; sha512: string };
  /** etcd client TLS files, written root-only and handed to the units with LoadCredential=. */
  tls?: TlsFiles;
  /** Also install and enable the watcher, with this config text (/etc/beacon/watcher.yaml). */
  watcher?: { config: string };
  /** Unit texts (from units/). */
  units: UnitFiles;
  /** An operator's existing Ignition config to add beacon to. */
  merge?: unknown;
}

/** Ignition can fetch from these URL schemes. */
const FETCH_SCHEMES = new Set(['http:', 'https:', 's3:', 'gs:', 'tftp:', 'data:']);

/** The Ignition config that installs beacon: its user, executable, config, TLS files, enabled units. */
export function generateIgnition(opts: IgnitionOptions): IgnitionConfig {
  const spec = opts.spec ?? DEFAULT_IGNITION_SPEC;
  if (!(IGNITION_SPECS as readonly string[]).includes(spec)) {
    throw new ConfigError('--spec', spec, `must be one of ${IGNITION_SPECS.join(', ')}`);
  }
  const flavor = opts.flavor ?? 'fcos';
  if (!Object.hasOwn(flavors, flavor)) throw new ConfigError('--flavor', flavor, `must be one of ${Object.keys(flavors).join(', ')}`);
  const binary = `${flavors[flavor].binDir}/beacon`;
  const tls = opts.tls ?? {};
  checkTls(tls);
  checkConfigText('--config', opts.agentConfig, tls);
  if (opts.watcher) checkConfigText('--watcher-config', opts.watcher.config, tls);

  const files: IgnitionFile[] = [
    {
      path: binary,
      mode: MODES.executable,
      overwrite: true,
      contents: {
        source: artifactUrl(opts.artifact.url),
        compression: 'gzip',
        verification: { hash: `sha512-${sha512Hex(opts.artifact.sha512)}` },
      },
    },
    secretFile(HOST_PATHS.agentConfig, opts.agentConfig),
  ];
  if (opts.watcher) files.push(secretFile(HOST_PATHS.watcherConfig, opts.watcher.config));
  for (const k of ['ca', 'cert', 'key'] as const) {
    const pem = tls[k];
    if (pem !== undefined) files.push(secretFile(HOST_PATHS[k], pem));
  }

  const tlsDropIn = tlsDropInFor(opts.units.tlsDropIn, tls);
  const unit = (name: string, text: string, withMetadata: boolean): IgnitionUnit => {
    const dropins = [
      ...(withMetadata ? [{ name: DROPIN_NAMES.metadata, contents: opts.units.metadataDropIns[flavor] }] : []),
      ...(tlsDropIn ? [{ name: DROPIN_NAMES.tls, contents: tlsDropIn }] : []),
    ];
    return { name, enabled: true, contents: withBinary(name, text, binary), ...(dropins.length ? { dropins } : {}) };
  };
  const units = [unit('beacon-agent.service', opts.units.agent, true)];
  // The watcher reads no platform metadata: it needs no ordering after the metadata service.
  if (opts.watcher) units.push(unit('beacon-watcher.service', opts.units.watcher, false));

  const ours: IgnitionConfig = { ignition: { version: spec }, passwd: { users: [SERVICE_USER] }, storage: { files }, systemd: { units } };
  return opts.merge === undefined ? ours : mergeIgnition(opts.merge, ours);
}

/** A root-only file with inline contents. */
function secretFile(path: string, text: string): IgnitionFile {
  return { path, mode: MODES.secret, overwrite: true, contents: { source: dataUrl(text) } };
}

/** RFC 2397 data URL; percent-encoding keeps text readable in the JSON (Butane does the same). */
export function dataUrl(text: string): string {
  return `data:,${encodeURIComponent(text)}`;
}

/** Decode a `data:` URL as Ignition would (percent-encoded or ;base64). */
export function decodeDataUrl(url: string): string {
  const m = /^data:([^,]*),(.*)$/s.exec(url);
  if (!m) throw new Error(`not a data URL: ${url.slice(0, 40)}`);
  return m[1]!.endsWith(';base64') ? Buffer.from(decodeURIComponent(m[2]!), 'base64').toString('utf8') : decodeURIComponent(m[2]!);
}

function artifactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('--artifact-url', url, 'must be an absolute URL');
  }
  if (!FETCH_SCHEMES.has(parsed.protocol)) {
    throw new ConfigError('--artifact-url', url, `must use a scheme Ignition fetches: ${[...FETCH_SCHEMES].map((s) => s.slice(0, -1)).join(', ')}`);
  }
  return url;
}

/** 128 hex digits, lower-cased; a `sha512-` prefix or a trailing ` beacon` (sha512sum output) is accepted. */
function sha512Hex(value: string): string {
  const hex = value.trim().replace(/^sha512-/, '').split(/\s+/)[0]!.toLowerCase();
  if (!/^[0-9a-f]{128}$/.test(hex)) {
    throw new ConfigError('--artifact-sha512', value, 'must be the 128 hex digits of the decompressed executable (dist/artifact/beacon.sha512)');
  }
  return hex;
}

function checkTls(tls: TlsFiles): void {
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    const [set, unset] = tls.cert !== undefined ? ['--cert-file', '--key-file'] : ['--key-file', '--cert-file'];
    throw new ConfigError(set, '(given)', `needs ${unset} too: a client certificate and its key come together`);
  }
  for (const [k, flag] of [['ca', '--ca-file'], ['cert', '--cert-file'], ['key', '--key-file']] as const) {
    const pem = tls[k];
    if (pem !== undefined && !/-----BEGIN [A-Z0-9 ]+-----/.test(pem)) throw new ConfigError(flag, pem.slice(0, 30), 'is not a PEM file');
  }
}

/**
 * The config must parse, and must not name TLS files itself when they come as credentials: the unit's
 * service user (beacon) cannot read root-only files, and a path in the file would win over the credentials.
 */
function checkConfigText(flag: string, text: string, tls: TlsFiles): void {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(flag, '(file)', `is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const etcd = isObject(doc) && isObject(doc.etcd) ? doc.etcd : {};
  for (const [field, k] of [['caFile', 'ca'], ['certFile', 'cert'], ['keyFile', 'key']] as const) {
    if (etcd[field] !== undefined) {
      const hint = tls[k] !== undefined ? 'the TLS flags already hand it over' : `pass the file with --${k}-file instead`;
      throw new ConfigError(
        `${flag} etcd.${field}`,
        etcd[field],
        `must not be set in a config installed by Ignition: the unit's user beacon cannot read it; ${hint}, and the unit hands it over with LoadCredential=`,
      );
    }
  }
}

/** The shipped TLS drop-in, keeping only the lines of the files given (none given: no drop-in). */
export function tlsDropInFor(shipped: string, tls: TlsFiles): string | undefined {
  const ids = { ca: 'etcd-ca.pem', cert: 'etcd-client.pem', key: 'etcd-client-key.pem' } as const;
  const absent = (Object.keys(ids) as (keyof typeof ids)[]).filter((k) => tls[k] === undefined).map((k) => ids[k]);
  if (absent.length === 3) return undefined;
  for (const id of Object.values(ids)) {
    if (!shipped.includes(`LoadCredential=${id}:`)) throw new Error(`units/drop-ins/tls.conf lacks LoadCredential=${id}:`);
  }
  return shipped
    .split('\n')
    .filter((line) => line.startsWith('#') || !absent.some((id) => line.includes(id)))
    .join('\n');
}

/** The unit text with ExecStart pointing at this flavour's binary. */
function withBinary(name: string, text: string, binary: string): string {
  const from = `ExecStart=${UNIT_BINARY} `;
  if (!text.includes(from)) throw new Error(`${name}: expected a line starting with "${from}"`);
  return text.split(from).join(`ExecStart=${binary} `);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
