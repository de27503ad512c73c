import type { Grammar } from './grammar.js';

/**
 * An upper bound on the NFA states `buildNfa` creates for `grammar` (shared nodes count once per use, as the
 * builder expands them), computed over the node DAG in time linear in its size. Saturates: anything above
 * `cap` is reported as Infinity, so a hostile schema is refused before any state is allocated.
 */
export function grammarSize(grammar: Grammar, cap: number): number {
  const memo = new Map<Grammar, number>();
  const size = (g: Grammar): number => {
    const known = memo.get(g);
    if (known !== undefined) return known;
    const n = clamp(measure(g, size), cap);
    memo.set(g, n);
    return n;
  };
  return size(grammar);
}

function measure(g: Grammar, size: (g: Grammar) => number): number {
  switch (g.kind) {
    case 'bytes':
      return 1;
    case 'literal':
      return g.bytes.length;
    case 'seq':
      return g.items.reduce((sum, item) => sum + size(item), 0);
    case 'alt':
      return g.items.reduce((sum, item) => sum + size(item), 1);
    case 'repeat': {
      const item = size(g.item);
      const copies = g.max === Infinity ? g.min + 1 : g.max;
      return copies * item + 1;
    }
    case 'list': {
      const item = size(g.item);
      const sep = size(g.separator);
      const copies = g.max === Infinity ? Math.max(g.min, 1) : g.max;
      return copies * (item + sep) + 2;
    }
    case 'members':
      return g.members.reduce((sum, m) => sum + size(m.grammar) + size(g.separator) + 2, 1);
  }
}

function clamp(n: number, cap: number): number {
  return n > cap ? Infinity : n;
}
