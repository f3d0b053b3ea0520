// The part of the Ignition config (spec 3.x) that beacon writes or has to look at when merging.
// Field names and meanings: https://coreos.github.io/ignition/configuration-v3_3/

/** The CoreOS-family systems beacon installs on. */
export type OsFlavor = 'fcos' | 'flatcar';

/** Where a file's contents come from, and how Ignition checks them. */
export interface IgnitionResource {
  /** URL (http, https, s3, gs, tftp or data). */
  source?: string;
  /** `gzip` when the source is gzip-compressed. */
  compression?: string;
  /** `sha512-<hex>`; with compression, the hash of the decompressed contents. */
  verification?: { hash?: string };
  httpHeaders?: { name: string; value?: string }[];
}

/** One entry of storage.files. */
export interface IgnitionFile {
  path: string;
  /** Permission bits as a decimal number (JSON has no octal): 0600 is 384, 0755 is 493. */
  mode?: number;
  overwrite?: boolean;
  contents?: IgnitionResource;
  append?: IgnitionResource[];
  user?: { id?: number; name?: string };
  group?: { id?: number; name?: string };
}

/** One entry of storage.directories or storage.links (only the path matters to beacon). */
export interface IgnitionNode {
  path: string;
  [key: string]: unknown;
}

/** One systemd drop-in. */
export interface IgnitionDropin {
  name: string;
  contents?: string;
}

/** One entry of systemd.units. */
export interface IgnitionUnit {
  name: string;
  enabled?: boolean;
  mask?: boolean;
  contents?: string;
  dropins?: IgnitionDropin[];
}

/** One entry of passwd.users (Ignition runs useradd with these). */
export interface IgnitionUser {
  name: string;
  system?: boolean;
  noCreateHome?: boolean;
  homeDir?: string;
  shell?: string;
  gecos?: string;
  [key: string]: unknown;
}

/** An Ignition config; sections beacon does not write (kernelArguments, ...) pass through. */
export interface IgnitionConfig {
  ignition: { version: string; [key: string]: unknown };
  passwd?: { users?: IgnitionUser[]; [key: string]: unknown };
  storage?: {
    files?: IgnitionFile[];
    directories?: IgnitionNode[];
    links?: IgnitionNode[];
    [key: string]: unknown;
  };
  systemd?: { units?: IgnitionUnit[] };
  [key: string]: unknown;
}
