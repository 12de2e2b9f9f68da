/**
 * A tiny SQL-free session handler for protocol tests. It understands a handful of fixed
 * statements (case-insensitive, `;`-separated in simple queries):
 *
 *   select 1 | select types | generate <n> [async] | echo $1 $2 ... | sleep | error | crash |
 *   begin | commit | rollback | fail | notice | set application_name <v> |
 *   copy in | copy out <n> | <empty>
 */
import { PgError, SqlState, queryCanceled } from '../errors';
import type {
  ColumnInfo,
  PreparedStatement,
  QueryContext,
  Row,
  SessionFactory,
  SessionHandler,
  StatementResult,
  TransactionStatus,
} from '../session';
import { Oid, type PgValue } from '../types';

export interface EchoStatement extends PreparedStatement {
  sql: string;
}

export interface EchoStats {
  aborted: number;
  copied: Buffer[];
  closedStatements: number;
  sessions: number;
}

const TYPES_COLUMNS: ColumnInfo[] = [
  { name: 'b', typeOid: Oid.bool },
  { name: 'i2', typeOid: Oid.int2 },
  { name: 'i4', typeOid: Oid.int4 },
  { name: 'i8', typeOid: Oid.int8 },
  { name: 'f4', typeOid: Oid.float4 },
  { name: 'f8', typeOid: Oid.float8 },
  { name: 'n', typeOid: Oid.numeric },
  { name: 't', typeOid: Oid.text },
  { name: 'v', typeOid: Oid.varchar },
  { name: 'by', typeOid: Oid.bytea },
  { name: 'u', typeOid: Oid.uuid },
  { name: 'd', typeOid: Oid.date },
  { name: 'ts', typeOid: Oid.timestamp },
  { name: 'tz', typeOid: Oid.timestamptz },
  { name: 'j', typeOid: Oid.json },
  { name: 'jb', typeOid: Oid.jsonb },
  { name: 'o', typeOid: Oid.oid },
  { name: 'nul', typeOid: Oid.text },
];

export const TYPES_ROW: Row = [
  true,
  -12,
  123456,
  9007199254740993n,
  1.5,
  3.141592653589793,
  '-12345.678900',
  'héllo',
  'varchar',
  Buffer.from([0xde, 0xad, 0xbe, 0xef]),
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '2024-02-29',
  '2024-02-29 13:14:15.123456',
  '2024-02-29 13:14:15.5+00',
  { a: 1, b: [true, null] },
  '{"k": "v"}',
  4000000000,
  null,
];

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(queryCanceled());
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(queryCanceled());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function* syncBatches(n: number, size: number): Generator<Row[]> {
  for (let i = 0; i < n; i += size) {
    const batch: Row[] = [];
    for (let j = i; j < Math.min(n, i + size); j++) batch.push([j]);
    yield batch;
  }
}

async function* asyncBatches(n: number, size: number): AsyncGenerator<Row[]> {
  for (const b of syncBatches(n, size)) {
    await Promise.resolve();
    yield b;
  }
}

export class EchoHandler implements SessionHandler<EchoStatement> {
  private tx: TransactionStatus = 'I';

  constructor(readonly stats: EchoStats) {
    stats.sessions++;
  }

  transactionStatus(): TransactionStatus {
    return this.tx;
  }

  async *simpleQuery(sql: string, ctx: QueryContext): AsyncGenerator<StatementResult> {
    const parts = sql.split(';').map((s) => s.trim());
    // "select 1;" is one statement; a bare ";" is an empty one.
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    for (const part of parts) yield await this.run(part, [], ctx);
  }

  prepare(sql: string, paramTypes: readonly number[]): EchoStatement {
    const s = sql.trim().toLowerCase();
    const n = (sql.match(/\$\d+/g) ?? []).length;
    const types = Array.from({ length: n }, (_, i) => paramTypes[i] || Oid.text);
    if (s.startsWith('echo')) {
      return { sql, paramTypes: types, columns: types.map((t, i) => ({ name: `p${i + 1}`, typeOid: t })) };
    }
    if (s.startsWith('bad syntax')) throw new PgError('42601', 'syntax error at or near "bad"', { position: 1 });
    return { sql, paramTypes: types, columns: this.columnsOf(s) };
  }

  execute(req: { statement: EchoStatement; params: readonly PgValue[] }, ctx: QueryContext): Promise<StatementResult> {
    return this.run(req.statement.sql.trim(), req.params, ctx, req.statement.columns);
  }

  closeStatement(): void {
    this.stats.closedStatements++;
  }

  private columnsOf(s: string): ColumnInfo[] | null {
    if (s === 'select 1') return [{ name: '?column?', typeOid: Oid.int4 }];
    if (s === 'select types') return TYPES_COLUMNS;
    if (s.startsWith('generate')) return [{ name: 'g', typeOid: Oid.int4 }];
    return null;
  }

  private async run(
    sql: string,
    params: readonly PgValue[],
    ctx: QueryContext,
    columns: readonly ColumnInfo[] | null = null,
  ): Promise<StatementResult> {
    const s = sql.toLowerCase();
    if (this.tx === 'E' && s !== 'rollback' && s !== 'commit') {
      throw new PgError('25P02', 'current transaction is aborted, commands ignored until end of transaction block');
    }
    if (s === '') return { kind: 'empty' };
    if (s === 'select 1') return { kind: 'rows', columns: this.columnsOf(s) ?? [], rows: [[1]] };
    if (s === 'select types') return { kind: 'rows', columns: TYPES_COLUMNS, rows: [TYPES_ROW] };
    if (s.startsWith('generate')) {
      const n = Number(s.split(/\s+/)[1] ?? '10');
      const batches = s.endsWith('async') ? asyncBatches(n, 100) : syncBatches(n, 100);
      return { kind: 'rows', columns: [{ name: 'g', typeOid: Oid.int4 }], batches };
    }
    if (s.startsWith('echo')) {
      const cols = columns ?? params.map((_, i) => ({ name: `p${i + 1}`, typeOid: Oid.text }));
      return { kind: 'rows', columns: cols, rows: [params] };
    }
    if (s === 'sleep') {
      try {
        await sleep(10_000, ctx.signal);
      } catch (e) {
        this.stats.aborted++;
        throw e;
      }
      return { kind: 'command', commandTag: 'SLEEP' };
    }
    if (s === 'error') {
      throw new PgError('42601', 'syntax error at or near "error"', { detail: 'some detail', hint: 'some hint', position: 1 });
    }
    if (s === 'crash') throw new TypeError('engine bug');
    if (s === 'begin') {
      this.tx = 'T';
      return { kind: 'command', commandTag: 'BEGIN' };
    }
    if (s === 'commit' || s === 'rollback') {
      const tag = this.tx === 'E' || s === 'rollback' ? 'ROLLBACK' : 'COMMIT';
      this.tx = 'I';
      return { kind: 'command', commandTag: tag };
    }
    if (s === 'fail') {
      if (this.tx === 'T') this.tx = 'E';
      throw new PgError('22012', 'division by zero');
    }
    if (s === 'notice') {
      ctx.notice({ severity: 'WARNING', code: '25P01', message: 'there is no transaction in progress' });
      return { kind: 'command', commandTag: 'NOTICE' };
    }
    if (s.startsWith('set application_name')) {
      const v = sql.split(/\s+/)[2] ?? '';
      ctx.setParameter('application_name', v);
      return { kind: 'command', commandTag: 'SET' };
    }
    if (s === 'copy in') {
      const chunks: Buffer[] = [];
      return {
        kind: 'copyIn',
        format: 0,
        columnCount: 2,
        write: (c) => void chunks.push(Buffer.from(c)),
        end: () => {
          this.stats.copied = chunks;
          const lines = Buffer.concat(chunks).toString().split('\n').filter((l) => l !== '').length;
          return `COPY ${lines}`;
        },
        abort: () => {
          this.stats.copied = [];
        },
      };
    }
    if (s.startsWith('copy out')) {
      const n = Number(s.split(/\s+/)[2] ?? '3');
      return {
        kind: 'copyOut',
        format: 0,
        columnCount: 2,
        data: (function* () {
          for (let i = 0; i < n; i++) yield `${i}\trow ${i}\n`;
        })(),
        commandTag: `COPY ${n}`,
      };
    }
    throw new PgError(SqlState.FEATURE_NOT_SUPPORTED, `echo handler does not understand: ${sql.slice(0, 40)}`);
  }
}

export function echoSessionFactory(stats: EchoStats): SessionFactory<EchoStatement> {
  return (info) => {
    if (info.database === 'nodb') {
      throw new PgError('3D000', `database "${info.database}" does not exist`, {}, 'FATAL');
    }
    return { handler: new EchoHandler(stats), parameters: { TimeZone: 'UTC' } };
  };
}

export function newStats(): EchoStats {
  return { aborted: 0, copied: [], closedStatements: 0, sessions: 0 };
}
