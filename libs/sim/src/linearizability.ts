/**
 * A linearizability checker for a key-value register, in the style of Wing & Gong's search
 * with Lowe's memoization (as popularised by Knossos and Porcupine):
 *
 * - The history is split per key. A key-value store is linearizable iff each key's register
 *   is (P-compositionality), and checking many small histories is exponentially cheaper than
 *   one large one.
 * - For one key, calls and returns are laid out in time order in a doubly linked list. The
 *   search repeatedly picks an operation whose call precedes every pending return, applies it
 *   to the register model, and removes it from the list; if it reaches a return whose
 *   operation was not linearized, it backtracks.
 * - A configuration is (set of linearized ops, register value). Two paths reaching the same
 *   configuration have the same future, so each is explored once (the memo cache).
 *
 * Operations that never returned (crash, timeout) have an unknown outcome: they have no return
 * event, so they may be linearized anywhere after their call or — equivalently for a register —
 * after everything else, which is indistinguishable from never having happened.
 */

export type KvInput =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | undefined; readonly value: string };

export interface HistoryOp {
  readonly client: number;
  readonly input: KvInput;
  /**
   * For `get`: the value read (`undefined` = key absent). For `cas`: whether it swapped.
   * Ignored for `put` and for operations that never returned.
   */
  readonly output?: string | boolean;
  /** Virtual time the client invoked the operation. */
  readonly call: number;
  /** Virtual time the client saw the response; `undefined` if it never did. */
  readonly ret?: number;
}

export type LinearizabilityResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly key: string;
      /** Human-readable account of the violation. */
      readonly explanation: string;
      /** A small sub-history (same key) that is already not linearizable. */
      readonly core: readonly HistoryOp[];
    };

export interface CheckOptions {
  /** Try to shrink the failing history to a small core (costs extra searches). Default true. */
  readonly shrink?: boolean;
}

type Reg = string | undefined;

interface StepResult {
  readonly ok: boolean;
  readonly next: Reg;
}

function step(state: Reg, h: HistoryOp): StepResult {
  const inp = h.input;
  const known = h.ret !== undefined;
  switch (inp.op) {
    case 'put':
      return { ok: true, next: inp.value };
    case 'get':
      return { ok: !known || h.output === state, next: state };
    case 'cas': {
      const matches = state === inp.expected;
      if (!known) return { ok: true, next: matches ? inp.value : state };
      return h.output === true ? { ok: matches, next: inp.value } : { ok: !matches, next: state };
    }
  }
}

export function describeOp(h: HistoryOp): string {
  const inp = h.input;
  const when = `[${h.call}, ${h.ret === undefined ? '∞' : h.ret}]`;
  const out =
    h.ret === undefined
      ? ' -> ?'
      : inp.op === 'get'
        ? ` -> ${fmt(h.output as Reg)}`
        : inp.op === 'cas'
          ? ` -> ${String(h.output)}`
          : '';
  const body =
    inp.op === 'put'
      ? `put(${inp.key}, ${fmt(inp.value)})`
      : inp.op === 'get'
        ? `get(${inp.key})`
        : `cas(${inp.key}, ${fmt(inp.expected)}, ${fmt(inp.value)})`;
  return `client ${h.client} ${body}${out} ${when}`;
}

function fmt(v: Reg): string {
  return v === undefined ? 'undefined' : JSON.stringify(v);
}

interface SearchOutcome {
  readonly ok: boolean;
  /** Deepest linearization found (op indexes in order), for the explanation. */
  readonly best: readonly number[];
  /** The op whose return could not be passed at that depth. */
  readonly blocker: number | undefined;
  readonly bestState: Reg;
}

/** Checks one key's sub-history. Exposed for tests; most callers want `checkLinearizable`. */
export function searchKey(ops: readonly HistoryOp[]): SearchOutcome {
  const n = ops.length;
  // Node 0 is the list head sentinel; node 1+2i is op i's call, node 2+2i its return.
  const events: { node: number; time: number; isCall: boolean; op: number }[] = [];
  for (let i = 0; i < n; i++) {
    const h = ops[i];
    if (h.ret !== undefined && h.ret < h.call) {
      throw new Error(`history op returns before it is called: ${describeOp(h)}`);
    }
    events.push({ node: 1 + 2 * i, time: h.call, isCall: true, op: i });
    if (h.ret !== undefined) events.push({ node: 2 + 2 * i, time: h.ret, isCall: false, op: i });
  }
  // At equal times calls sort first: treating touching operations as concurrent can only
  // admit more linearizations, never report a false violation.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.node - b.node : a.isCall ? -1 : 1));

  const size = 2 * n + 1;
  const next = new Int32Array(size).fill(-1);
  const prev = new Int32Array(size).fill(-1);
  let last = 0;
  for (const e of events) {
    next[last] = e.node;
    prev[e.node] = last;
    last = e.node;
  }
  next[last] = -1;

  const hasRet = (i: number): boolean => ops[i].ret !== undefined;
  const unlink = (x: number): void => {
    next[prev[x]] = next[x];
    if (next[x] !== -1) prev[next[x]] = prev[x];
  };
  const relink = (x: number): void => {
    next[prev[x]] = x;
    if (next[x] !== -1) prev[next[x]] = x;
  };
  const lift = (i: number): void => {
    unlink(1 + 2 * i);
    if (hasRet(i)) unlink(2 + 2 * i);
  };
  const unlift = (i: number): void => {
    // Dancing links: restore in the reverse order of removal.
    if (hasRet(i)) relink(2 + 2 * i);
    relink(1 + 2 * i);
  };

  const words = new Uint32Array(Math.max(1, Math.ceil(n / 32)));
  const cache = new Set<string>();
  const stack: { op: number; state: Reg }[] = [];
  let state: Reg = undefined;
  let best: number[] = [];
  let blocker: number | undefined;
  let bestState: Reg = undefined;

  let entry = next[0];
  while (next[0] !== -1) {
    if (entry !== -1 && entry % 2 === 1) {
      const i = (entry - 1) / 2;
      const r = step(state, ops[i]);
      if (r.ok) {
        words[i >>> 5] |= 1 << (i & 31);
        const k = `${words.join(',')}|${r.next === undefined ? '\u0000' : 's' + r.next}`;
        if (!cache.has(k)) {
          cache.add(k);
          stack.push({ op: i, state });
          state = r.next;
          lift(i);
          entry = next[0];
          continue;
        }
        words[i >>> 5] &= ~(1 << (i & 31));
      }
      entry = next[entry];
    } else {
      // A return (or the end of the list) that we cannot get past: backtrack.
      if (stack.length >= best.length) {
        best = stack.map((s) => s.op);
        blocker = entry === -1 ? undefined : (entry - 2) / 2;
        bestState = state;
      }
      const top = stack.pop();
      if (top === undefined) return { ok: false, best, blocker, bestState };
      words[top.op >>> 5] &= ~(1 << (top.op & 31));
      unlift(top.op);
      state = top.state;
      entry = next[1 + 2 * top.op];
    }
  }
  return { ok: true, best: stack.map((s) => s.op), blocker: undefined, bestState: state };
}

/** Groups a history by key (P-compositionality). Keys come back sorted, for determinism. */
export function partitionByKey(history: readonly HistoryOp[]): Map<string, HistoryOp[]> {
  const byKey = new Map<string, HistoryOp[]>();
  for (const h of history) {
    const list = byKey.get(h.input.key);
    if (list) list.push(h);
    else byKey.set(h.input.key, [h]);
  }
  return new Map([...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function checkLinearizable(history: readonly HistoryOp[], opts: CheckOptions = {}): LinearizabilityResult {
  for (const [key, ops] of partitionByKey(history)) {
    const res = searchKey(ops);
    if (res.ok) continue;
    const core = opts.shrink === false ? ops : shrink(ops);
    return { ok: false, key, explanation: explain(key, core), core };
  }
  return { ok: true };
}

/**
 * Removes reads (and failed compare-and-sets, which are reads too) while the history stays
 * non-linearizable. Only read-like operations may go: dropping a read from a linearizable
 * history leaves it linearizable, so a failing core that kept every write still proves the
 * whole history wrong. Dropping a write could invent a violation that was not there.
 */
function shrink(ops: readonly HistoryOp[]): HistoryOp[] {
  let cur = ops.slice();
  if (cur.length > 400) return cur; // shrinking is a courtesy; do not let it dominate runtime
  const readLike = (h: HistoryOp): boolean =>
    h.input.op === 'get' || (h.input.op === 'cas' && h.ret !== undefined && h.output === false);
  for (let i = cur.length - 1; i >= 0; i--) {
    if (!readLike(cur[i])) continue;
    const trial = cur.slice(0, i).concat(cur.slice(i + 1));
    if (!searchKey(trial).ok) cur = trial;
  }
  // Unknown-outcome writes that no remaining read could have observed are noise too.
  return cur;
}

function explain(key: string, core: readonly HistoryOp[]): string {
  const res = searchKey(core);
  const lines: string[] = [];
  lines.push(`key ${JSON.stringify(key)}: no linearization of these ${core.length} operations exists:`);
  const sorted = core.slice().sort((a, b) => a.call - b.call);
  const shown = sorted.slice(0, 30);
  for (const h of shown) lines.push(`  ${describeOp(h)}`);
  if (sorted.length > shown.length) lines.push(`  ... ${sorted.length - shown.length} more`);
  if (res.best.length > 0) {
    lines.push(
      `longest valid prefix (${res.best.length} ops) ends with the register holding ${fmt(res.bestState)}: ` +
        res.best
          .slice(-5)
          .map((i) => describeOp(core[i]))
          .join('; '),
    );
  }
  if (res.blocker !== undefined) {
    lines.push(`then ${describeOp(core[res.blocker])} must take effect before it returns, but cannot`);
  }
  return lines.join('\n');
}
