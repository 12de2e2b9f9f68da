// The statement snapshot of a transaction: what a statement with data-modifying CTEs reads.
// In Postgres every part of such a statement (each CTE, the main query) runs against the same
// snapshot, taken when the statement starts, so no part sees another part's writes; rows reach
// the main query only through RETURNING. Here the transaction's own writes before the statement
// stay visible, the writes made during it do not. Constraint checks (unique keys, foreign keys,
// ON CONFLICT) still read through the transaction itself and see everything, as Postgres checks
// them against the latest row versions.
import type { Txn, TxnRow, ScanOptions } from '@weft/txn';
import type { TxnReader } from '../runtime';
import type { ExecContext } from '../statement';

type WriteBuffer = ReturnType<Txn['savepoint']>;

const k = (b: Buffer): string => b.toString('latin1');

export class StatementSnapshot {
  /** The transaction's own writes when the statement started. */
  private readonly base: WriteBuffer;
  /** Keys written since the statement started (latin1, which sorts like the bytes). */
  private readonly written = new Set<string>();
  /** Writes through this go to the transaction and are remembered as the statement's own. */
  readonly writer: Txn;
  /** Reads through this see the data as of the statement's start. */
  readonly reader: TxnReader;

  constructor(private readonly txn: Txn) {
    this.base = txn.savepoint();
    const written = this.written;
    this.writer = new Proxy(txn, {
      get(target, prop) {
        if (prop === 'put') {
          return (key: Buffer, value: Buffer, ifAbsent?: { constraint: string; detail?: string }): void => {
            target.put(key, value, ifAbsent);
            written.add(k(key));
          };
        }
        if (prop === 'delete') {
          return (key: Buffer): void => {
            target.delete(key);
            written.add(k(key));
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    this.reader = { get: (key) => this.get(key), scan: (start, end, options) => this.scan(start, end, options) };
  }

  /** A frozen view of the keys written so far: the "already changed by this statement" test for the next part. */
  writtenSoFar(): (key: Buffer) => boolean {
    const frozen = new Set(this.written);
    return (key) => frozen.has(k(key));
  }

  private async get(key: Buffer): Promise<Buffer | undefined> {
    const s = k(key);
    if (!this.written.has(s)) return this.txn.get(key);
    return this.valueAtStart(key, s);
  }

  /** The value a key had when the statement started: the transaction's earlier write, else the stored one. */
  private async valueAtStart(key: Buffer, s: string): Promise<Buffer | undefined> {
    const own = this.base.get(s);
    if (own) return own.op.kind === 'put' ? own.op.value : undefined;
    this.txn.notePointRead(key);
    const row = await this.txn.kv.get(key, await this.txn.readTs());
    return row?.value;
  }

  /**
   * The transaction's scan (which records the span for commit validation) with the keys this
   * statement wrote replaced by their values at the statement's start. A statement does not
   * write while one of its scans is being read (DML collects its rows before writing), so the
   * set of such keys is fixed for the length of a scan.
   */
  private async *scan(start: Buffer, end: Buffer, options: ScanOptions = {}): AsyncGenerator<TxnRow> {
    const reverse = options.reverse ?? false;
    const lo = k(start);
    const hi = k(end);
    const keys = [...this.written].filter((s) => s >= lo && s < hi).sort();
    if (reverse) keys.reverse();
    if (keys.length === 0) {
      yield* this.txn.scan(start, end, options);
      return;
    }
    const replaced = new Set(keys);
    const before = (a: string, b: string): boolean => (reverse ? a > b : a < b);
    let i = 0;
    const pending = async function* (self: StatementSnapshot, upTo: string | undefined): AsyncGenerator<TxnRow> {
      while (i < keys.length && (upTo === undefined || before(keys[i], upTo))) {
        const s = keys[i++];
        const key = Buffer.from(s, 'latin1');
        const value = await self.valueAtStart(key, s);
        if (value !== undefined) yield { key, value };
      }
    };
    for await (const row of this.txn.scan(start, end, options)) {
      const s = k(row.key);
      yield* pending(this, s);
      if (replaced.has(s)) continue;
      yield row;
    }
    yield* pending(this, undefined);
  }
}

/**
 * Whether part of the transaction's write set already sits on the shard as staged intents (big
 * transactions stage their buffer every few MiB). The snapshot is built from the write buffer,
 * so it cannot describe such a transaction.
 */
export function hasStagedWrites(txn: Txn): boolean {
  return txn.staged;
}

/**
 * Starts a statement snapshot of `ctx`'s transaction. Each call of the returned function gives
 * the context for the next part of the statement: all read the same snapshot (one runtime), and
 * each knows the rows the parts before it changed (`modifiedEarlier`).
 */
export function withStatementSnapshot(ctx: ExecContext): () => ExecContext {
  const snapshot = new StatementSnapshot(ctx.txn);
  const rt = { ...ctx.rt, txn: snapshot.reader };
  return () => ({ ...ctx, txn: snapshot.writer, rt, modifiedEarlier: snapshot.writtenSoFar() });
}
