// The layering of src/, checked by `npm run lint:deps` (part of `npm test`).
// docs/architecture.md describes the layers; this file is their proof.
//
// Layers, lowest first; a module may import its own layer or a lower one, never a higher one:
//   base     src/util/, src/types.ts, src/errors.ts, src/log.ts, src/version.ts
//   etcd     src/etcd/                       (the only importer of etcd3)
//   domain   src/registry/, src/checks/, src/problems/, src/facts/, src/rbac/, src/ignition/, src/usage/, src/capacity/
//   config   src/config/                     (assembles the domains' parsers into one frozen config)
//   roots    src/agent/, src/watcher/, src/render/, src/client/, src/doctor/, src/demo/, src/metrics/, src/explain/
//   cli      src/cli/                        (the only reader of argv and the only caller of exit)
// src/ui/ is the status page's browser code, apart from all of them: it sees only the status JSON types.
// src/config/ is imported only by src/cli/ and the composition roots that are handed a config:
// src/agent/, src/watcher/, src/client/ (the library's own config reader) and src/doctor/.

const base = '^src/(util/|types\\.ts$|errors\\.ts$|log\\.ts$|version\\.ts$)';
const etcd = '^src/etcd/';
const domain = '^src/(registry|checks|problems|facts|rbac|ignition|usage|capacity)/';
const config = '^src/config/';
const roots = '^src/(agent|watcher|render|client|doctor|demo|metrics|explain)/';
const cli = '^src/cli/';

/** `from` may not import any of `to`. */
const upward = (name, from, to) => ({
  name,
  severity: 'error',
  comment: `a lower layer imports a higher one (${name})`,
  from: { path: from },
  to: { path: to },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'modules that import each other, directly or through others, cannot be understood or tested alone',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'etcd3-only-in-src-etcd',
      severity: 'error',
      comment: 'only src/etcd/ talks to etcd3: errors are translated and keys built in one place',
      from: { path: '^src/', pathNot: etcd },
      to: { path: '(^|/)node_modules/etcd3/' },
    },
    {
      name: 'config-only-in-cli-and-roots',
      severity: 'error',
      comment: 'src/config/ only assembles; the domains take what they need as arguments',
      from: { path: '^src/', pathNot: ['^src/(cli|agent|watcher|client|doctor|config)/'] },
      to: { path: config },
    },
    upward('base-imports-higher', base, [etcd, domain, config, roots, cli]),
    upward('etcd-imports-higher', etcd, [domain, config, roots, cli]),
    upward('domain-imports-higher', domain, [config, roots, cli]),
    upward('config-imports-higher', config, [roots, cli]),
    upward('roots-import-cli', roots, [cli]),
    {
      name: 'ui-is-browser-code',
      severity: 'error',
      comment: 'src/ui/ runs in the browser: it may use only itself and the status JSON types the watcher serves',
      from: { path: '^src/ui/' },
      to: { path: '^src/', pathNot: ['^src/ui/', '^src/watcher/status-types\\.ts$'] },
    },
    {
      name: 'nothing-imports-ui',
      severity: 'error',
      comment: 'the status page is bundled apart (scripts/build-ui.mjs) and served as files',
      from: { path: '^src/', pathNot: '^src/ui/' },
      to: { path: '^src/ui/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'an import that does not resolve',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: ['^src/', '(^|/)node_modules/etcd3/'],
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
  },
};
