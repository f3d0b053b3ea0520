// The registry of hook kinds: one line per kind (no registration by import side effect).
import { execHook } from './exec.js';
import type { HookRunners } from './hook.js';
import { webhookHook } from './webhook.js';

/** Every hook kind's runner. */
export const hookRunners: HookRunners = { exec: execHook, webhook: webhookHook };
