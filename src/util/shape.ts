// Shape limits of a parsed config document (the config file, a rule file): how deep lists and mappings
// may nest, and how many YAML aliases may be expanded. Every reader of a document recurses per level
// (the YAML composer, JSON.stringify in error messages), so depth is bounded before anything reads it.
import { Parser } from 'yaml';
import { ConfigError } from '../errors.js';

/** Deepest nesting of lists and mappings a config file may have; the deepest real config field is about 6 levels down. */
export const MAX_CONFIG_DEPTH = 32;

/** Most YAML alias expansions per document (the `yaml` package's maxAliasCount): no config needs more than a few. */
export const MAX_YAML_ALIASES = 100;

const COLLECTIONS = new Set(['block-map', 'block-seq', 'flow-collection']);

// Walk the CST with an explicit stack; the first collection nested deeper than the limit is reported at its line.
export function refuseDeepYaml(path: string, text: string): void {
  type Tok = { type?: string; offset?: number; value?: unknown; key?: unknown; items?: { key?: unknown; value?: unknown }[] };
  const stack: [Tok, number][] = [];
  for (const tok of new Parser().parse(text)) stack.push([tok as Tok, 0]);
  while (stack.length > 0) {
    const [tok, outer] = stack.pop()!;
    const depth = tok.type !== undefined && COLLECTIONS.has(tok.type) ? outer + 1 : outer;
    if (depth > MAX_CONFIG_DEPTH) {
      const before = text.slice(0, tok.offset ?? 0).split('\n');
      throw new ConfigError(
        `${path}:${before.length}:${before[before.length - 1]!.length + 1}`,
        undefined,
        `nested deeper than ${MAX_CONFIG_DEPTH} levels of lists and mappings`,
      );
    }
    const push = (v: unknown) => {
      if (typeof v === 'object' && v !== null) stack.push([v as Tok, depth]);
    };
    push(tok.value);
    for (const item of tok.items ?? []) {
      push(item.key);
      push(item.value);
    }
  }
}

// After parsing (JSON, or YAML with aliases, which can nest a shared node below itself again and again):
// no cycles (`a: &a [*a]`: every reader after this one would recurse forever) and no nesting deeper than
// the limit. Iterative; each node is explored once, its height computed from its children's.
export function checkShape(path: string, root: unknown): void {
  const height = new Map<object, number>();
  const onPath = new Set<object>();
  const stack: { node: object; exit: boolean }[] = [];
  const push = (v: unknown) => {
    if (typeof v === 'object' && v !== null) stack.push({ node: v, exit: false });
  };
  push(root);
  for (let top = stack.pop(); top; top = stack.pop()) {
    const { node } = top;
    if (top.exit) {
      onPath.delete(node);
      let h = 0;
      for (const v of Object.values(node)) if (typeof v === 'object' && v !== null) h = Math.max(h, height.get(v) ?? 0);
      height.set(node, h + 1);
      if (h + 1 > MAX_CONFIG_DEPTH) {
        throw new ConfigError(path, undefined, `not usable: nested deeper than ${MAX_CONFIG_DEPTH} levels of lists and mappings`);
      }
    } else if (onPath.has(node)) {
      throw new ConfigError(path, undefined, 'not usable YAML: an alias refers to a node that contains it');
    } else if (!height.has(node)) {
      onPath.add(node);
      stack.push({ node, exit: true });
      for (const v of Object.values(node)) push(v);
    }
  }
}

