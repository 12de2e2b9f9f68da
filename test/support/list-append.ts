// An Elle-style checker for list-append histories (Kingsbury & Alvaro, "Elle: Inferring
// Isolation Anomalies from Experimental Observations", VLDB 2020), small enough to read.
//
// Each key holds a list; transactions append unique values to keys and read whole lists. Because
// every value is appended once and a list only grows, one committed read of a key reveals the
// order of every append it contains: the longest committed read is the key's version order and
// every other committed read must be a prefix of it. From that order the dependencies between
// committed transactions follow:
//   ww  T1 -> T2  T2 appended the value right after T1's in some key's order;
//   wr  T1 -> T2  T2 read a list whose last element (not its own) T1 appended;
//   rw  T1 -> T2  T1 read a list and T2 appended the value that follows it (anti-dependency).
// A serializable history has an acyclic graph. A cycle of ww edges only is G0, of ww/wr edges
// G1c, with one rw edge G-single, with more G2-item. Non-cyclic anomalies are checked too:
// reads that disagree on the order, duplicates, garbage (never appended), aborted reads (G1a),
// intermediate reads (G1b), reads inside a transaction that do not show its own appends, and
// committed appends missing from the final order (lost appends).

export type MicroOp =
  | { readonly f: 'append'; readonly k: number; readonly v: number }
  /** v: the list read; null when the read did not return (the transaction failed first). */
  | { readonly f: 'r'; readonly k: number; readonly v: readonly number[] | null };

/** ok: committed; fail: certainly not committed; info: unknown (40003, connection lost at COMMIT). */
export type TxnStatus = 'ok' | 'fail' | 'info';

export interface TxnRecord {
  readonly id: number;
  /** Which worker ran it (for reports). */
  readonly process: number;
  readonly status: TxnStatus;
  readonly ops: readonly MicroOp[];
  /** Why it failed or is unknown (SQLSTATE and message), for reports. */
  readonly error?: string;
}

export type EdgeKind = 'ww' | 'wr' | 'rw';

export interface Edge {
  readonly from: number;
  readonly to: number;
  readonly kind: EdgeKind;
  readonly key: number;
  /** The value the edge is about: the later append (ww, rw) or the value read (wr). */
  readonly value: number;
}

export interface Anomaly {
  readonly type:
    | 'G0'
    | 'G1c'
    | 'G-single'
    | 'G2-item'
    | 'G1a'
    | 'G1b'
    | 'incompatible-order'
    | 'duplicate-elements'
    | 'garbage-read'
    | 'internal'
    | 'lost-append';
  readonly message: string;
  /** For cycles: the edges around the cycle, in order. */
  readonly cycle?: readonly Edge[];
  /** The transactions involved, as recorded. */
  readonly txns: readonly TxnRecord[];
}

export interface CheckResult {
  readonly valid: boolean;
  readonly anomalies: readonly Anomaly[];
  /** Per key, the version order inferred (the longest committed read). */
  readonly versionOrder: ReadonlyMap<number, readonly number[]>;
  /** Transactions taken as committed: ok ones plus info ones whose appends were observed. */
  readonly committed: number;
  readonly edges: number;
}

const isPrefix = (p: readonly number[], of: readonly number[]): boolean => p.length <= of.length && p.every((x, i) => of[i] === x);

/**
 * Checks a list-append history. `history` should end with a committed transaction that reads
 * every key after all others finished (the final state), so lost appends can be told apart
 * from appends no one happened to read.
 */
export function checkListAppend(history: readonly TxnRecord[]): CheckResult {
  const anomalies: Anomaly[] = [];
  const byId = new Map<number, TxnRecord>();
  for (const t of history) {
    if (byId.has(t.id)) throw new Error(`transaction id ${t.id} appears twice in the history`);
    byId.set(t.id, t);
  }
  // Who appended each value (values are unique per key; we require globally unique per key).
  const writer = new Map<string, TxnRecord>();
  const vk = (k: number, v: number): string => `${k}:${v}`;
  for (const t of history) {
    for (const op of t.ops) {
      if (op.f !== 'append') continue;
      const prev = writer.get(vk(op.k, op.v));
      if (prev) throw new Error(`value ${op.v} appended to key ${op.k} twice (T${prev.id}, T${t.id}): the workload must use unique values`);
      writer.set(vk(op.k, op.v), t);
    }
  }

  const reads = (t: TxnRecord): { k: number; v: readonly number[] }[] =>
    t.ops.flatMap((op) => (op.f === 'r' && op.v !== null ? [{ k: op.k, v: op.v }] : []));

  // Which info transactions committed: those with an append some ok transaction observed.
  const observedBy = (statuses: readonly TxnStatus[]): Set<number> => {
    const seen = new Set<number>();
    for (const t of history) {
      if (!statuses.includes(t.status)) continue;
      for (const r of reads(t)) for (const v of r.v) {
        const w = writer.get(vk(r.k, v));
        if (w) seen.add(w.id);
      }
    }
    return seen;
  };
  const observed = observedBy(['ok']);
  const committed = history.filter((t) => t.status === 'ok' || (t.status === 'info' && observed.has(t.id)));
  const isCommitted = new Set(committed.map((t) => t.id));

  // Garbage, duplicates, aborted reads, and the version order per key.
  const longest = new Map<number, { v: readonly number[]; t: TxnRecord }>();
  for (const t of committed) {
    for (const r of reads(t)) {
      const seen = new Set<number>();
      for (const v of r.v) {
        if (seen.has(v)) anomalies.push({ type: 'duplicate-elements', message: `T${t.id} read key ${r.k} = [${r.v.join(',')}]: ${v} twice`, txns: [t] });
        seen.add(v);
        const w = writer.get(vk(r.k, v));
        if (!w) anomalies.push({ type: 'garbage-read', message: `T${t.id} read ${v} in key ${r.k}, which no transaction appended`, txns: [t] });
        else if (w.status === 'fail') anomalies.push({ type: 'G1a', message: `T${t.id} read ${v} in key ${r.k}, appended by T${w.id} which aborted (${w.error ?? 'no error recorded'})`, txns: [t, w] });
      }
      const cur = longest.get(r.k);
      if (!cur || r.v.length > cur.v.length) longest.set(r.k, { v: r.v, t });
    }
  }
  const versionOrder = new Map<number, readonly number[]>();
  for (const [k, { v }] of longest) versionOrder.set(k, v);
  for (const t of committed) {
    for (const r of reads(t)) {
      const order = longest.get(r.k);
      if (order && !isPrefix(r.v, order.v)) {
        anomalies.push({
          type: 'incompatible-order',
          message: `key ${r.k}: T${t.id} read [${r.v.join(',')}], not a prefix of T${order.t.id}'s [${order.v.join(',')}]`,
          txns: [t, order.t],
        });
      }
    }
  }

  // Lost appends: a committed append missing from its key's final order.
  for (const t of committed) {
    for (const op of t.ops) {
      if (op.f !== 'append') continue;
      const order = versionOrder.get(op.k) ?? [];
      if (!order.includes(op.v)) anomalies.push({ type: 'lost-append', message: `T${t.id} committed append ${op.v} to key ${op.k}, missing from its final order [${order.join(',')}]`, txns: [t] });
    }
  }

  // Internal consistency and intermediate reads.
  for (const t of committed) {
    const state = new Map<number, { known: boolean; v: number[] }>();
    for (const op of t.ops) {
      const s = state.get(op.k);
      if (op.f === 'append') {
        if (s) s.v.push(op.v);
        else state.set(op.k, { known: false, v: [op.v] });
        continue;
      }
      if (op.v === null) continue;
      if (s) {
        const ok = s.known ? s.v.length === op.v.length && isPrefix(s.v, op.v) : op.v.length >= s.v.length && isPrefix(s.v, op.v.slice(op.v.length - s.v.length));
        if (!ok) anomalies.push({ type: 'internal', message: `T${t.id} read key ${op.k} = [${op.v.join(',')}], expected ${s.known ? '' : '... '}[${s.v.join(',')}] from its own earlier ops`, txns: [t] });
      }
      state.set(op.k, { known: true, v: [...op.v] });
      // G1b: the last value read (from another transaction) is not that transaction's last append to the key.
      const last = op.v[op.v.length - 1];
      if (last === undefined) continue;
      const w = writer.get(vk(op.k, last));
      if (w && w.id !== t.id) {
        const itsAppends = w.ops.filter((o) => o.f === 'append' && o.k === op.k).map((o) => o.v);
        if (itsAppends[itsAppends.length - 1] !== last) {
          anomalies.push({ type: 'G1b', message: `T${t.id} read key ${op.k} ending at ${last}, an intermediate append of T${w.id} (which went on to append ${itsAppends.slice(itsAppends.indexOf(last) + 1).join(',')})`, txns: [t, w] });
        }
      }
    }
  }

  // The dependency graph between committed transactions.
  const out = new Map<number, Edge[]>();
  let edgeCount = 0;
  const addEdge = (e: Edge): void => {
    if (e.from === e.to || !isCommitted.has(e.from) || !isCommitted.has(e.to)) return;
    const list = out.get(e.from) ?? [];
    if (list.some((x) => x.to === e.to && x.kind === e.kind)) return;
    list.push(e);
    out.set(e.from, list);
    edgeCount++;
  };
  for (const [k, order] of versionOrder) {
    for (let i = 0; i + 1 < order.length; i++) {
      const a = writer.get(vk(k, order[i]));
      const b = writer.get(vk(k, order[i + 1]));
      if (a && b) addEdge({ from: a.id, to: b.id, kind: 'ww', key: k, value: order[i + 1] });
    }
  }
  for (const t of committed) {
    for (const r of reads(t)) {
      const order = versionOrder.get(r.k) ?? [];
      // wr: from the writer of the last value that is not the reader's own.
      let i = r.v.length - 1;
      while (i >= 0 && writer.get(vk(r.k, r.v[i]))?.id === t.id) i--;
      if (i >= 0) {
        const w = writer.get(vk(r.k, r.v[i]));
        if (w) addEdge({ from: w.id, to: t.id, kind: 'wr', key: r.k, value: r.v[i] });
      }
      // rw: to the writer of the value after what was read (when the read fits the order).
      if (isPrefix(r.v, order) && r.v.length < order.length) {
        const next = writer.get(vk(r.k, order[r.v.length]));
        if (next) addEdge({ from: t.id, to: next.id, kind: 'rw', key: r.k, value: order[r.v.length] });
      }
    }
  }

  for (const cycle of findCycles(committed.map((t) => t.id), out)) {
    const rw = cycle.filter((e) => e.kind === 'rw').length;
    const wr = cycle.filter((e) => e.kind === 'wr').length;
    const type = rw === 0 ? (wr === 0 ? 'G0' : 'G1c') : rw === 1 ? 'G-single' : 'G2-item';
    const txns = cycle.map((e) => byId.get(e.from)).filter((t): t is TxnRecord => t !== undefined);
    anomalies.push({ type, message: `cycle ${cycle.map((e) => `T${e.from} -${e.kind}(k${e.key}:${e.value})-> `).join('')}T${cycle[0].from}`, cycle, txns });
  }

  return { valid: anomalies.length === 0, anomalies, versionOrder, committed: committed.length, edges: edgeCount };
}

/** One cycle per non-trivial strongly connected component (Tarjan), the shortest through its first node. */
function findCycles(nodes: readonly number[], out: ReadonlyMap<number, readonly Edge[]>): Edge[][] {
  let index = 0;
  const idx = new Map<number, number>();
  const low = new Map<number, number>();
  const onStack = new Set<number>();
  const stack: number[] = [];
  const sccs: number[][] = [];
  // Iterative Tarjan: histories can be long enough to overflow recursion.
  for (const root of nodes) {
    if (idx.has(root)) continue;
    const work: { v: number; i: number }[] = [{ v: root, i: 0 }];
    idx.set(root, index);
    low.set(root, index++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const top = work[work.length - 1];
      const edges = out.get(top.v) ?? [];
      if (top.i < edges.length) {
        const w = edges[top.i++].to;
        if (!idx.has(w)) {
          idx.set(w, index);
          low.set(w, index++);
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(top.v, Math.min(low.get(top.v) ?? 0, idx.get(w) ?? 0));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].v;
        low.set(parent, Math.min(low.get(parent) ?? 0, low.get(top.v) ?? 0));
      }
      if (low.get(top.v) === idx.get(top.v)) {
        const scc: number[] = [];
        let w: number | undefined;
        do {
          w = stack.pop();
          if (w === undefined) break;
          onStack.delete(w);
          scc.push(w);
        } while (w !== top.v);
        if (scc.length > 1) sccs.push(scc);
      }
    }
  }
  const cycles: Edge[][] = [];
  for (const scc of sccs) {
    const members = new Set(scc);
    const start = scc[0];
    // BFS from start, within the component, back to start.
    const via = new Map<number, Edge>();
    const queue = [start];
    let closing: Edge | undefined;
    for (let qi = 0; qi < queue.length && !closing; qi++) {
      for (const e of out.get(queue[qi]) ?? []) {
        if (!members.has(e.to)) continue;
        if (e.to === start) {
          closing = e;
          break;
        }
        if (!via.has(e.to)) {
          via.set(e.to, e);
          queue.push(e.to);
        }
      }
    }
    if (!closing) continue;
    const path: Edge[] = [closing];
    for (let at = closing.from; at !== start; ) {
      const e = via.get(at);
      if (!e) break;
      path.unshift(e);
      at = e.from;
    }
    cycles.push(path);
  }
  return cycles;
}

/** A readable account of anomalies, with the transactions involved (for test failure messages). */
export function describeAnomalies(anomalies: readonly Anomaly[], limit = 10): string {
  const fmtOp = (op: MicroOp): string => (op.f === 'append' ? `append(${op.k}, ${op.v})` : `r(${op.k}) = ${op.v === null ? '?' : `[${op.v.join(',')}]`}`);
  const fmtTxn = (t: TxnRecord): string => `    T${t.id} (worker ${t.process}, ${t.status}${t.error ? `: ${t.error}` : ''}): ${t.ops.map(fmtOp).join('; ')}`;
  return anomalies
    .slice(0, limit)
    .map((a) => `${a.type}: ${a.message}\n${[...new Map(a.txns.map((t) => [t.id, t])).values()].map(fmtTxn).join('\n')}`)
    .join('\n') + (anomalies.length > limit ? `\n... and ${anomalies.length - limit} more` : '');
}
