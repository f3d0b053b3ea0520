// Print an RBAC plan as a POSIX sh script of etcdctl 3.4 commands (the default output of `beacon rbac`).
// The script only adds: it creates what is missing and grants what the plan holds, so it may be run
// again; `beacon rbac --apply` also revokes what the plan no longer holds. Passwords never appear in it:
// they are read from a file at run time (one `user:password` line per user, the form
// `--passwords-out` writes), or users get none (client-certificate auth, `--no-passwords`).
import type { Permission, RbacPlan } from './plan.js';

/** How the script gives users their passwords. */
export type ScriptPasswords =
  | { kind: 'file'; /** Default for $BEACON_RBAC_PASSWORDS; without it the variable must be set. */ path?: string }
  | { kind: 'none' };

/** Options of the script. */
export interface ScriptOptions {
  passwords: ScriptPasswords;
  /** Also create the root user if missing (password from $BEACON_ROOT_PASSWORD_FILE) and enable authentication. */
  enableAuth?: boolean;
}

/** The etcdctl arguments (after `etcdctl`) that grant one permission to a role. */
export function grantArgs(role: string, p: Permission): string[] {
  return ['role', 'grant-permission', ...(p.prefix ? ['--prefix=true'] : []), role, p.access, p.key];
}

/** The plan as an executable sh script of etcdctl commands. */
export function renderScript(plan: RbacPlan, opts: ScriptOptions): string {
  const out: string[] = [
    '#!/bin/sh',
    `# etcd roles and users for beacon (prefix ${plan.prefix}), printed by \`beacon rbac\`; see docs/security.md.`,
    '# Talks to the cluster etcdctl is pointed at (ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_USER, ...): once',
    '# authentication is on, as root. Creates what is missing and grants the permissions below; it revokes',
    '# nothing (`beacon rbac --apply` does), so it is safe to run again.',
    'set -eu',
  ];
  if (opts.passwords.kind === 'file') {
    const fallback = opts.passwords.path === undefined ? '' : quote(opts.passwords.path);
    out.push(
      '# Passwords of new users: one "user:password" line each (`beacon rbac --passwords-out FILE` writes such a file).',
      fallback
        ? `passwords=\${BEACON_RBAC_PASSWORDS:-${fallback}}`
        : 'passwords=${BEACON_RBAC_PASSWORDS:?set BEACON_RBAC_PASSWORDS to a file of user:password lines}',
    );
  }
  out.push(
    'add_role() { etcdctl role get "$1" >/dev/null 2>&1 || etcdctl role add "$1"; }',
    opts.passwords.kind === 'none'
      ? 'add_user() { etcdctl user get "$1" >/dev/null 2>&1 || etcdctl user add "$1" --no-password; }'
      : [
          'add_user() {',
          '  etcdctl user get "$1" >/dev/null 2>&1 && return 0',
          '  pw=$(awk -v u="$1" \'index($0, u ":") == 1 { print substr($0, length(u) + 2); exit }\' "$passwords")',
          '  [ -n "$pw" ] || { echo "no password for $1 in $passwords" >&2; exit 1; }',
          '  printf \'%s\\n\' "$pw" | etcdctl user add "$1" --interactive=false',
          '}',
        ].join('\n'),
  );
  for (const role of plan.roles) {
    out.push('', `add_role ${quote(role.name)}`);
    for (const p of role.permissions) out.push(`etcdctl ${grantArgs(role.name, p).map(quote).join(' ')}`);
  }
  out.push('');
  for (const user of plan.users) {
    out.push(`add_user ${quote(user.name)}`);
    for (const r of user.roles) out.push(`etcdctl user grant-role ${quote(user.name)} ${quote(r)}`);
  }
  if (opts.enableAuth) {
    out.push(
      '',
      '# Authentication needs a root user holding the root role; a new one takes its password from a file.',
      'if ! etcdctl user get root >/dev/null 2>&1; then',
      '  etcdctl user add root --interactive=false < "${BEACON_ROOT_PASSWORD_FILE:?set BEACON_ROOT_PASSWORD_FILE to a file holding the new root password}"',
      'fi',
      'etcdctl user grant-role root root',
      'etcdctl auth enable',
    );
  }
  return `${out.join('\n')}\n`;
}

// Quote for sh only when needed: names and keys are plain (docs/keys.md), paths may not be.
function quote(s: string): string {
  return /^[A-Za-z0-9_./:=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
