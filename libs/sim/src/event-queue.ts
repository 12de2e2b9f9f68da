/**
 * A min-heap of timed events. Ties on time are broken by insertion order, which is what makes
 * the simulation deterministic: two events at the same virtual millisecond always run in the
 * order they were scheduled, never in an order that depends on heap internals.
 */
export interface Timed<T> {
  readonly at: number;
  readonly seq: number;
  readonly item: T;
}

export class EventQueue<T> {
  private heap: Timed<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, item: T): void {
    const node: Timed<T> = { at, seq: this.seq++, item };
    const h = this.heap;
    h.push(node);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  peek(): Timed<T> | undefined {
    return this.heap[0];
  }

  pop(): Timed<T> | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop() as Timed<T>;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }

  /** Removes every event matching `pred` (used when a crashed replica's timers are void). */
  removeWhere(pred: (item: T) => boolean): void {
    const kept = this.heap.filter((n) => !pred(n.item));
    this.heap = [];
    kept.sort((x, y) => (less(x, y) ? -1 : 1));
    // Re-inserting in (at, seq) order keeps the original tie-breaking.
    for (const n of kept) this.heap.push(n);
  }
}

function less<T>(x: Timed<T>, y: Timed<T>): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}
