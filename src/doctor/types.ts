// The vocabulary of `beacon doctor`: one finding per line of its report, and the shape every check has.
import type { AgentConfig } from '../config/types.js';
import type { EtcdConfig } from '../etcd/options.js';
import type { Store } from '../etcd/store.js';

/** ok (✓), warning (!) or failed (✗): exit 1 when any finding failed. */
export type FindingStatus = 'ok' | 'warning' | 'failed';

/** One line of the report: `{check, status, detail, fix}` is also the `-o json` contract. */
export interface Finding {
  check: string;
  status: FindingStatus;
  detail: string;
  /** One line saying how to fix it; empty when nothing is to fix. */
  fix: string;
}

/** What every check gets: the loaded config (undefined when it has errors) and a store on its etcd settings. */
export interface DoctorContext {
  /** Undefined when the config has errors: the checks that need it report "not checked". */
  config?: AgentConfig;
  /** How to reach etcd: the config's, or with a bad config what flags, environment and the file's etcd section give. */
  etcd: EtcdConfig;
  /** The deadline a keepalive must meet (node.keepaliveTimeout), or its default when the config has errors. */
  keepaliveTimeoutMs: number;
  store: Store;
  /** What the endpoint checks measured (the slowest round trip), for the TTL check after them. */
  measured: { rttMs?: number };
  /** Where the local API, state and problem sources live; tests point these at their own files. */
  paths: { stateDir: string; kmsg: string };
}

/** The context of a config that loaded: what the checks of the node's own setup need. */
export interface ConfiguredContext extends DoctorContext {
  config: AgentConfig;
}

/** A check: a plain function returning its findings; a check never throws because its target is unhealthy. */
export type DoctorCheck<C extends DoctorContext = DoctorContext> = (ctx: C, signal: AbortSignal) => Promise<Finding[]>;

export const ok = (check: string, detail: string): Finding => ({ check, status: 'ok', detail, fix: '' });
export const warning = (check: string, detail: string, fix: string): Finding => ({ check, status: 'warning', detail, fix });
export const failed = (check: string, detail: string, fix: string): Finding => ({ check, status: 'failed', detail, fix });
