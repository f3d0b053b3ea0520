// The systemd unit files `beacon ignition` embeds, read from units/ — inside the single executable
// they travel as SEA assets under the same relative names (scripts/build-artifact.mjs adds them).
import { readFileSync } from 'node:fs';
import { getAsset, isSea } from 'node:sea';
import type { OsFlavor } from './types.js';

/** The texts of units/ that the generator needs. */
export interface UnitFiles {
  /** units/beacon-agent.service */
  agent: string;
  /** units/beacon-watcher.service */
  watcher: string;
  /** units/drop-ins/tls.conf: LoadCredential= lines for etcd client TLS. */
  tlsDropIn: string;
  /** units/drop-ins/<flavor>/10-metadata.conf: start after the platform's metadata service. */
  metadataDropIns: Record<OsFlavor, string>;
}

/** Relative paths (from the repository root, and SEA asset keys) of every file in UnitFiles. */
export const UNIT_FILE_PATHS = {
  agent: 'units/beacon-agent.service',
  watcher: 'units/beacon-watcher.service',
  tlsDropIn: 'units/drop-ins/tls.conf',
  metadataDropIns: { fcos: 'units/drop-ins/fedora-coreos/10-metadata.conf', flatcar: 'units/drop-ins/flatcar/10-metadata.conf' },
} as const satisfies { [K in keyof UnitFiles]: UnitFiles[K] extends string ? string : Record<OsFlavor, string> };

/** Read the unit files: from the executable's assets when running as one, else from units/ on disk. */
export function loadUnitFiles(): UnitFiles {
  const read = (rel: string): string =>
    // Compiled, this file is dist/src/ignition/unit-files.js: the repository root is three levels up.
    isSea() ? getAsset(rel, 'utf8') : readFileSync(new URL(`../../../${rel}`, import.meta.url), 'utf8');
  return {
    agent: read(UNIT_FILE_PATHS.agent),
    watcher: read(UNIT_FILE_PATHS.watcher),
    tlsDropIn: read(UNIT_FILE_PATHS.tlsDropIn),
    metadataDropIns: { fcos: read(UNIT_FILE_PATHS.metadataDropIns.fcos), flatcar: read(UNIT_FILE_PATHS.metadataDropIns.flatcar) },
  };
}
