import { CST, Parser } from 'yaml';

/**
 * How deeply the collections of a YAML text nest, measured on yaml's concrete syntax tree, which its parser
 * builds without recursion. The composer behind `parse` recurses once per level: thousands of levels
 * overflow the stack, and overflowing it repeatedly in one process has aborted node outright (V8 ran out of
 * memory compiling a regular expression near the stack limit), so callers refuse deep texts first.
 */
export function yamlNestingDepth(text: string): number {
  let deepest = 0;
  const pending: { token: CST.Token; depth: number }[] = [];
  for (const token of new Parser().parse(text)) pending.push({ token, depth: 0 });
  // An explicit stack: the walk must not recurse either.
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { token, depth } = next;
    deepest = Math.max(deepest, depth);
    if (token.type === 'document' && token.value) pending.push({ token: token.value, depth });
    if (!CST.isCollection(token)) continue;
    for (const item of token.items) {
      if (item.key) pending.push({ token: item.key, depth: depth + 1 });
      if (item.value) pending.push({ token: item.value, depth: depth + 1 });
    }
  }
  return deepest;
}
