/**
 * A portal's position in its row stream. Batches are pulled lazily so a row-limited Execute
 * stops pulling from the engine, and the iterator stays open across PortalSuspended.
 * Synchronous iterables are consumed without any await.
 */
import type { Row, RowBatches } from './session';

type AnyIterator = Iterator<readonly Row[]> | AsyncIterator<readonly Row[]>;

function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

export class RowCursor {
  private batch: readonly Row[];
  private i = 0;
  private iter: AnyIterator | null = null;
  private exhausted = false;
  /** Rows handed out so far (for the command tag). */
  count = 0;

  constructor(first: readonly Row[] | undefined, private source: RowBatches | undefined) {
    this.batch = first ?? [];
  }

  /**
   * The next slice of rows, at most `limit` (0 = the rest of the current batch). An empty
   * array means the stream is finished. Returns synchronously when no engine await is needed.
   */
  next(limit: number): readonly Row[] | Promise<readonly Row[]> {
    for (let guard = 0; guard < 1_000_000; guard++) {
      if (this.i < this.batch.length) return this.take(limit);
      if (this.exhausted || !this.source) return [];
      this.iter ??= this.open(this.source);
      const r = this.iter.next();
      if (isPromiseLike(r)) return Promise.resolve(r).then((res) => this.accept(res, limit));
      const out = this.accept(r, limit);
      if (out.length > 0 || this.exhausted) return out;
      // An empty batch from a sync iterator: keep pulling (bounded by the guard).
    }
    return [];
  }

  private accept(res: IteratorResult<readonly Row[]>, limit: number): readonly Row[] {
    if (res.done) {
      this.exhausted = true;
      return [];
    }
    this.batch = res.value;
    this.i = 0;
    if (this.batch.length === 0) return [];
    return this.take(limit);
  }

  /** True once an empty result from next() means "finished" rather than "empty batch". */
  get finished(): boolean {
    return this.i >= this.batch.length && (this.exhausted || !this.source);
  }

  private take(limit: number): readonly Row[] {
    const end = limit > 0 ? Math.min(this.batch.length, this.i + limit) : this.batch.length;
    const out = this.i === 0 && end === this.batch.length ? this.batch : this.batch.slice(this.i, end);
    this.count += end - this.i;
    this.i = end;
    return out;
  }

  private open(src: RowBatches): AnyIterator {
    if (Symbol.asyncIterator in src) return (src as AsyncIterable<readonly Row[]>)[Symbol.asyncIterator]();
    return (src as Iterable<readonly Row[]>)[Symbol.iterator]();
  }

  /** Release the engine's iterator early (portal closed, error, end of transaction). */
  close(): void {
    const it = this.iter;
    this.iter = null;
    this.exhausted = true;
    this.batch = [];
    if (it?.return) {
      try {
        const r = it.return();
        if (isPromiseLike(r)) Promise.resolve(r).catch(() => undefined);
      } catch {
        // The engine failed to clean up; nothing the protocol can do about it.
      }
    }
  }
}
