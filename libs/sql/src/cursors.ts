// SQL-level cursors: DECLARE / FETCH / MOVE / CLOSE and what pg_cursors lists.
//
// A cursor wraps the row stream of its query, run in the transaction that declared it, and
// pulls rows only as FETCH/MOVE need them (psycopg's named cursors and SQLAlchemy's yield_per
// walk large tables through them). Position follows PostgreSQL: 0 is before the first row,
// k the k-th row, count+1 after the last. A SCROLL cursor keeps every row it has read so it can
// move backwards; any other cursor keeps only its current row and refuses to move backwards
// (55000, as PostgreSQL does for NO SCROLL). At COMMIT a WITH HOLD cursor reads the rest of its
// rows into memory (PostgreSQL materialises it too) and the others close; ROLLBACK closes every
// cursor the transaction declared.
import type { ColumnInfo, PortalRows, Row, RowBatches } from '@weft/pgwire';
import { S, sqlError } from './errors';

/** DECLARE options as the grammar encodes them (PostgreSQL's CURSOR_OPT_* bits). */
export const CURSOR_OPT = { binary: 0x1, scroll: 0x2, noScroll: 0x4, hold: 0x20 } as const;

/** FETCH ALL as libpg-query reports its count. */
const FETCH_ALL = 2147483647;

export type FetchDirection = 'FETCH_FORWARD' | 'FETCH_BACKWARD' | 'FETCH_ABSOLUTE' | 'FETCH_RELATIVE';

export interface CursorInfo {
  readonly name: string;
  readonly statement: string;
  readonly isHoldable: boolean;
  readonly isBinary: boolean;
  readonly isScrollable: boolean;
  /** Microseconds since 2000-01-01 (the engine's timestamptz). */
  readonly creationTimeUs: bigint;
}

export class SqlCursor implements CursorInfo {
  private readonly source: AsyncIterator<readonly Row[]>;
  private pending: Row[] = [];
  private exhausted = false;
  /** Rows read so far (SCROLL: all of them, 1-based position k is seen[k - 1]). */
  private readonly seen: Row[] = [];
  private current: Row | undefined;
  /** Rows pulled from the source so far. */
  private pulled = 0;
  private pos = 0;

  constructor(
    readonly name: string,
    readonly statement: string,
    readonly columns: readonly ColumnInfo[],
    rows: readonly Row[] | undefined,
    batches: RowBatches | undefined,
    readonly isHoldable: boolean,
    readonly isBinary: boolean,
    readonly isScrollable: boolean,
    readonly creationTimeUs: bigint,
    /** The transaction block generation that declared it (closed if that one rolls back). */
    public declaredIn: number,
  ) {
    this.source = concatRows(rows, batches)[Symbol.asyncIterator]();
  }

  /** FETCH or MOVE: the rows passed over (FETCH returns them), in the order visited. */
  async fetch(direction: FetchDirection, howMany: number): Promise<Row[]> {
    switch (direction) {
      case 'FETCH_FORWARD':
        return howMany >= 0 ? this.forward(howMany) : this.backward(-howMany);
      case 'FETCH_BACKWARD':
        return howMany >= 0 ? this.backward(howMany) : this.forward(-howMany);
      case 'FETCH_ABSOLUTE': {
        if (howMany >= 0) return this.seek(howMany);
        const count = await this.count();
        return this.seek(Math.max(0, count + 1 + howMany));
      }
      case 'FETCH_RELATIVE':
        if (howMany === 0) {
          const r = this.pos > 0 && this.pos <= this.pulled ? await this.rowAt(this.pos) : undefined;
          return r === undefined ? [] : [r];
        }
        return this.seek(Math.max(0, this.pos + howMany));
    }
  }

  /** WITH HOLD at COMMIT: read everything left, so the cursor no longer needs the transaction. */
  async materialize(): Promise<void> {
    const rest: Row[] = [];
    for (let r = await this.pull(); r !== undefined; r = await this.pull()) rest.push(r);
    // pull() counted these rows as read; they go back to `pending`, unread.
    this.pulled -= rest.length;
    this.pending = rest;
    this.exhausted = true;
  }

  close(): void {
    void this.source.return?.();
  }

  private async forward(n: number): Promise<Row[]> {
    const out: Row[] = [];
    const all = n >= FETCH_ALL;
    while (all || out.length < n) {
      const r = await this.rowAt(this.pos + 1);
      if (r === undefined) {
        this.pos = this.pulled + 1;
        break;
      }
      this.pos++;
      out.push(r);
    }
    return out;
  }

  private async backward(n: number): Promise<Row[]> {
    if (n > 0 && this.pos > 0) this.requireScroll();
    const out: Row[] = [];
    const all = n >= FETCH_ALL;
    // After the last row, the first step back lands on it; make sure the count is known.
    if (this.pos > this.pulled) await this.count();
    while ((all || out.length < n) && this.pos > 1) {
      this.pos--;
      out.push(this.seen[this.pos - 1]);
    }
    if ((all || out.length < n) && this.pos >= 1) this.pos = 0;
    return out;
  }

  /** ABSOLUTE k: the single row at k (none for 0 or past the end). */
  private async seek(k: number): Promise<Row[]> {
    if (k < this.pos) this.requireScroll();
    if (k === 0) {
      this.pos = 0;
      return [];
    }
    const r = await this.rowAt(k);
    if (r === undefined) {
      this.pos = this.pulled + 1;
      return [];
    }
    this.pos = k;
    return [r];
  }

  /** The row at 1-based position k, reading forward as needed (k >= pos unless SCROLL). */
  private async rowAt(k: number): Promise<Row | undefined> {
    if (this.isScrollable && k <= this.seen.length) return this.seen[k - 1];
    if (!this.isScrollable && k === this.pulled && this.current !== undefined) return this.current;
    while (this.pulled < k) {
      const r = await this.pull();
      if (r === undefined) return undefined;
      this.current = r;
      if (this.isScrollable) this.seen.push(r);
    }
    return this.current;
  }

  private async count(): Promise<number> {
    while (await this.rowAt(this.pulled + 1)) {
      /* read to the end */
    }
    return this.pulled;
  }

  private async pull(): Promise<Row | undefined> {
    while (this.pending.length === 0) {
      if (this.exhausted) return undefined;
      const next = await this.source.next();
      if (next.done) {
        this.exhausted = true;
        return undefined;
      }
      this.pending = [...next.value];
    }
    this.pulled++;
    return this.pending.shift();
  }

  private requireScroll(): void {
    if (!this.isScrollable) {
      throw sqlError(S.OBJECT_NOT_IN_STATE, 'cursor can only scan forward', { hint: 'Declare it with SCROLL option to enable backward scan.' });
    }
  }
}

async function* concatRows(rows: readonly Row[] | undefined, batches: RowBatches | undefined): AsyncIterable<readonly Row[]> {
  if (rows && rows.length > 0) yield rows;
  if (batches) for await (const b of batches) yield b;
}

/** A session's cursors, with the transaction-end rules above. */
export class CursorSet {
  private readonly cursors = new Map<string, SqlCursor>();

  get(name: string): SqlCursor {
    const c = this.cursors.get(name);
    if (!c) throw sqlError(S.INVALID_CURSOR_NAME, `cursor "${name}" does not exist`);
    return c;
  }

  has(name: string): boolean {
    return this.cursors.has(name);
  }

  add(c: SqlCursor): void {
    if (this.cursors.has(c.name)) throw sqlError(S.DUPLICATE_CURSOR, `cursor "${c.name}" already exists`);
    this.cursors.set(c.name, c);
  }

  close(name: string): void {
    this.get(name).close();
    this.cursors.delete(name);
  }

  closeAll(): void {
    for (const c of this.cursors.values()) c.close();
    this.cursors.clear();
  }

  /** COMMIT: holdable cursors are read to the end and survive; the others close. */
  async commit(): Promise<void> {
    for (const [name, c] of this.cursors) {
      if (c.isHoldable) {
        await c.materialize();
        c.declaredIn = -1;
      } else {
        c.close();
        this.cursors.delete(name);
      }
    }
  }

  /** ROLLBACK of block `generation`: its cursors close, held ones from earlier commits stay. */
  rollback(generation: number): void {
    for (const [name, c] of this.cursors) {
      if (!c.isHoldable || c.declaredIn === generation) {
        c.close();
        this.cursors.delete(name);
      }
    }
  }

  list(): readonly CursorInfo[] {
    return [...this.cursors.values()];
  }
}

const scanForwardOnly = (): Error =>
  sqlError(S.OBJECT_NOT_IN_STATE, 'cursor can only scan forward', { hint: 'Declare it with SCROLL option to enable backward scan.' });

/**
 * FETCH/MOVE naming a protocol-level portal (Bind) instead of a DECLAREd cursor, as asyncpg's
 * Cursor.forward() does. Such portals are NO SCROLL in PostgreSQL: moves that go backwards or
 * re-read the current row are 55000. Returns the rows passed over, as SqlCursor.fetch does
 * (ABSOLUTE/RELATIVE: the one row landed on, if any); `move` is MOVE (0 re-reads nothing).
 */
export async function fetchFromPortal(portal: PortalRows, direction: FetchDirection, howMany: number, move: boolean): Promise<Row[]> {
  const read = async (n: number): Promise<Row[]> => [...(await portal.read(n))];
  const landOn = async (k: number): Promise<Row[]> => {
    const rows = await read(k);
    return rows.length === k ? [rows[k - 1]] : [];
  };
  const forward = direction === 'FETCH_FORWARD' ? howMany : direction === 'FETCH_BACKWARD' ? -howMany : undefined;
  if (forward !== undefined) {
    if (forward > 0) return read(forward >= FETCH_ALL ? Infinity : forward);
    if (forward === 0 && move) return [];
    throw scanForwardOnly();
  }
  if (direction === 'FETCH_RELATIVE') {
    if (howMany > 0) return landOn(howMany);
    if (howMany === 0 && move) return [];
    throw scanForwardOnly();
  }
  // FETCH_ABSOLUTE: only a row after the current position can be reached.
  if (howMany > portal.position) return landOn(howMany - portal.position);
  throw scanForwardOnly();
}
