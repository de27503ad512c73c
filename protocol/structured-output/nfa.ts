import type { Grammar, Member } from './grammar.js';

/**
 * A byte NFA with ε-moves, built from a grammar Thompson-style: `compile(g, from)` adds the states `g` needs
 * and returns the state where a match of `g` that began at `from` ends. Constructs only ever add edges out of
 * `from`, never into it, and every loop goes through a state of its own, so alternatives that share `from`
 * cannot leak into each other.
 */
export interface Nfa {
  readonly stateCount: number;
  readonly start: number;
  readonly final: number;
  /** Per state: ε targets. */
  readonly epsilon: readonly (readonly number[])[];
  /** Per state: byte edges, flat triples [lo, hi, target, ...]. */
  readonly edges: readonly (readonly number[])[];
}

export function buildNfa(grammar: Grammar): Nfa {
  const builder = new NfaBuilder();
  const start = builder.newState();
  const final = builder.compile(grammar, start);
  return { stateCount: builder.epsilon.length, start, final, epsilon: builder.epsilon, edges: builder.edges };
}

class NfaBuilder {
  readonly epsilon: number[][] = [];
  readonly edges: number[][] = [];

  newState(): number {
    this.epsilon.push([]);
    this.edges.push([]);
    return this.epsilon.length - 1;
  }

  private link(from: number, to: number): void {
    this.epsilon[from].push(to);
  }

  compile(g: Grammar, from: number): number {
    switch (g.kind) {
      case 'bytes': {
        const to = this.newState();
        for (const [lo, hi] of g.ranges) this.edges[from].push(lo, hi, to);
        return to;
      }
      case 'literal': {
        let at = from;
        for (const b of g.bytes) {
          const to = this.newState();
          this.edges[at].push(b, b, to);
          at = to;
        }
        return at;
      }
      case 'seq':
        return g.items.reduce((at, item) => this.compile(item, at), from);
      case 'alt': {
        // An empty alternative list yields a state nothing reaches: the empty language, trimmed later.
        const end = this.newState();
        for (const item of g.items) this.link(this.compile(item, from), end);
        return end;
      }
      case 'repeat':
        return this.repeat(g.item, g.min, g.max, from);
      case 'list':
        return this.list(g.item, g.separator, g.min, g.max, from);
      case 'members':
        return this.members(g.members, g.separator, from);
    }
  }

  private repeat(item: Grammar, min: number, max: number, from: number): number {
    let at = from;
    for (let i = 0; i < min; i++) at = this.compile(item, at);
    if (max === Infinity) {
      const loop = this.newState();
      this.link(at, loop);
      this.link(this.compile(item, loop), loop);
      return loop;
    }
    const end = this.newState();
    for (let i = min; i < max; i++) {
      this.link(at, end);
      at = this.compile(item, at);
    }
    this.link(at, end);
    return end;
  }

  /** item (sep item)*, bounded or not; the unbounded tail compiles `item` once and loops back through `sep`. */
  private list(item: Grammar, sep: Grammar, min: number, max: number, from: number): number {
    if (min === 0) {
      const end = this.newState();
      this.link(from, end);
      this.link(this.list(item, sep, 1, max, from), end);
      return end;
    }
    if (max === Infinity) {
      let at = from;
      for (let i = 1; i < min; i++) at = this.compile(sep, this.compile(item, at));
      const head = this.newState();
      this.link(at, head);
      const tail = this.compile(item, head);
      this.link(this.compile(sep, tail), head);
      return tail;
    }
    let at = this.compile(item, from);
    for (let i = 1; i < min; i++) at = this.compile(item, this.compile(sep, at));
    const end = this.newState();
    for (let i = min; i < max; i++) {
      this.link(at, end);
      at = this.compile(item, this.compile(sep, at));
    }
    this.link(at, end);
    return end;
  }

  /**
   * Members in order. Two junctions per position: `none` (no member written yet, so no separator is due) and
   * `some`. A required member leaves only `some`; an optional one may be skipped from either.
   */
  private members(list: readonly Member[], sep: Grammar, from: number): number {
    let none: number | undefined = from;
    let some: number | undefined;
    for (const member of list) {
      const entry = this.newState();
      if (none !== undefined) this.link(none, entry);
      if (some !== undefined) this.link(this.compile(sep, some), entry);
      const next = this.newState();
      this.link(this.compile(member.grammar, entry), next);
      if (!member.required && some !== undefined) this.link(some, next);
      if (member.required) none = undefined;
      some = next;
    }
    const end = this.newState();
    if (none !== undefined) this.link(none, end);
    if (some !== undefined) this.link(some, end);
    return end;
  }
}

/**
 * The states on some path from start to final (reachable and co-reachable), as a mask. Everything else is
 * dead: a DFA built only from live states has no dead ends.
 */
export function liveStates(nfa: Nfa): Uint8Array {
  const forward = new Uint8Array(nfa.stateCount);
  const reverse: number[][] = Array.from({ length: nfa.stateCount }, () => []);
  const stack = [nfa.start];
  forward[nfa.start] = 1;
  while (stack.length > 0) {
    const s = stack.pop()!;
    const visit = (t: number): void => {
      reverse[t].push(s);
      if (!forward[t]) {
        forward[t] = 1;
        stack.push(t);
      }
    };
    for (const t of nfa.epsilon[s]) visit(t);
    const e = nfa.edges[s];
    for (let i = 2; i < e.length; i += 3) visit(e[i]);
  }
  const live = new Uint8Array(nfa.stateCount);
  if (!forward[nfa.final]) return live;
  live[nfa.final] = 1;
  stack.push(nfa.final);
  while (stack.length > 0) {
    for (const p of reverse[stack.pop()!]) {
      if (!live[p]) {
        live[p] = 1;
        stack.push(p);
      }
    }
  }
  return live;
}
