import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { PgError, type PreparedStatement, type SessionHandler, type StatementResult, type TransactionStatus } from '@weft/pgwire';
import { abortReason, SqlMetrics, statementType } from './sql-metrics';

class TestReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** Sum of a metric's data points whose attributes include `match` (histograms: their count). */
function value(rm: ResourceMetrics, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const sm of rm.scopeMetrics) {
    for (const m of sm.metrics) {
      if (m.descriptor.name !== name) continue;
      for (const dp of m.dataPoints) {
        if (!Object.entries(match).every(([k, v]) => dp.attributes[k] === v)) continue;
        const v = dp.value as number | { count: number };
        sum += typeof v === 'number' ? v : v.count;
      }
    }
  }
  return sum;
}

/**
 * A scripted session: statements are words; BEGIN/COMMIT/ROLLBACK move the status as Postgres
 * does, `fail:CODE` throws that SQLSTATE (failing an open block), and a string of several
 * statements runs as one implicit transaction (status T until the end) like the SQL engine.
 */
class ScriptedSession implements SessionHandler<PreparedStatement> {
  status: TransactionStatus = 'I';
  readonly settings = new Map<string, string>();

  async *simpleQuery(sql: string): AsyncIterable<StatementResult> {
    const stmts = sql.split(';').map((s) => s.trim());
    const implicit = stmts.length > 1 && this.status === 'I';
    if (implicit) this.status = 'T';
    for (const s of stmts) yield this.run(s, implicit);
    if (implicit) this.status = 'I';
  }

  private run(s: string, implicit: boolean): StatementResult {
    const [word, arg] = s.split(':');
    switch (word) {
      case 'BEGIN':
        this.status = 'T';
        return { kind: 'command', commandTag: 'BEGIN' };
      case 'COMMIT': {
        const failed = this.status === 'E';
        this.status = 'I';
        return { kind: 'command', commandTag: failed ? 'ROLLBACK' : 'COMMIT' };
      }
      case 'ROLLBACK':
        this.status = 'I';
        return { kind: 'command', commandTag: 'ROLLBACK' };
      case 'SET':
        this.settings.set('weft.tenant', arg);
        return { kind: 'command', commandTag: 'SET' };
      case 'fail':
        if (this.status === 'T' && !implicit) this.status = 'E';
        else this.status = 'I';
        throw new PgError(arg, `failed with ${arg}`);
      case 'SELECT':
        return { kind: 'rows', columns: [], rows: [] };
      default:
        return { kind: 'command', commandTag: `${word} 0 1` };
    }
  }

  prepare(): PreparedStatement {
    return { paramTypes: [], columns: null };
  }
  execute(): StatementResult {
    return { kind: 'command', commandTag: 'INSERT 0 1' };
  }
  transactionStatus(): TransactionStatus {
    return this.status;
  }
}

async function session(): Promise<{ run: (sql: string) => Promise<unknown>; collect: () => Promise<ResourceMetrics> }> {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const m = new SqlMetrics(provider.getMeter('test'));
  const inner = new ScriptedSession();
  const wrapped = await m.instrument(() => ({ handler: inner }))({ user: 'alice', database: 'weft', applicationName: '', params: new Map(), remoteAddress: '127.0.0.1', pid: 1 });
  // The engine exposes its settings as `settings.get`; the scripted one is a Map.
  const run = async (sql: string): Promise<unknown> => {
    const ctx = { signal: new AbortController().signal, notice: () => undefined, setParameter: () => undefined };
    try {
      for await (const r of wrapped.handler.simpleQuery(sql, ctx)) void r;
      return undefined;
    } catch (e) {
      return e;
    }
  };
  return { run, collect: async () => (await reader.collect()).resourceMetrics };
}

describe('SQL metrics', () => {
  it('types statements by their leading keyword or command tag', () => {
    expect(statementType('  /* app */ insert into t values (1)')).toBe('insert');
    expect(statementType('(SELECT 1)')).toBe('select');
    expect(statementType('-- x\nWITH a AS (SELECT 1) SELECT * FROM a')).toBe('select');
    expect(statementType('UPDATE 3')).toBe('update');
    expect(statementType('CREATE TABLE')).toBe('ddl');
    expect(statementType('START TRANSACTION')).toBe('begin');
    expect(statementType('VACUUM')).toBe('other');
  });

  it('maps SQLSTATEs to abort reasons', () => {
    expect(['40001', '40P01', '23505', '57014', '55P03', '40003', undefined, '23502'].map(abortReason)).toEqual([
      'conflict',
      'conflict',
      'unique_violation',
      'timeout',
      'timeout',
      'unknown',
      'unknown',
      'error',
    ]);
  });

  it('counts commits and aborts by following the transaction status', async () => {
    const s = await session();
    await s.run('INSERT'); // implicit: commit
    await s.run('BEGIN');
    await s.run('INSERT');
    await s.run('COMMIT'); // commit
    await s.run('BEGIN');
    await s.run('fail:40001'); // abort: conflict
    await s.run('INSERT'); // (would be 25P02 in the failed block: nothing new)
    await s.run('COMMIT'); // answers ROLLBACK: already counted
    await s.run('fail:23505'); // implicit: abort unique_violation
    await s.run('BEGIN');
    await s.run('ROLLBACK'); // abort: rollback
    await s.run('INSERT;INSERT'); // one implicit transaction: one commit
    await s.run('INSERT;fail:57014'); // one implicit transaction: abort timeout
    await s.run('COMMIT'); // no transaction: nothing
    const rm = await s.collect();
    expect(value(rm, 'weft_txn_commits')).toBe(3);
    expect(value(rm, 'weft_txn_aborts', { reason: 'conflict' })).toBe(1);
    expect(value(rm, 'weft_txn_aborts', { reason: 'unique_violation' })).toBe(1);
    expect(value(rm, 'weft_txn_aborts', { reason: 'rollback' })).toBe(1);
    expect(value(rm, 'weft_txn_aborts', { reason: 'timeout' })).toBe(1);
    expect(value(rm, 'weft_txn_aborts')).toBe(4);
    expect(value(rm, 'weft_sql_statement_errors', { code: '40001' })).toBe(1);
  });

  it('records latency by type, failures included, and queries by tenant (the setting, else the role)', async () => {
    const s = await session();
    await s.run('INSERT');
    await s.run('SELECT');
    await s.run('SET:acme');
    await s.run('SELECT');
    await s.run('fail:23505');
    const rm = await s.collect();
    expect(value(rm, 'weft_sql_statement_duration_seconds', { type: 'insert' })).toBe(1);
    expect(value(rm, 'weft_sql_statement_duration_seconds', { type: 'select' })).toBe(2);
    expect(value(rm, 'weft_sql_statement_duration_seconds', { type: 'utility' })).toBe(1);
    // The failed statement's text starts with "fail": type other.
    expect(value(rm, 'weft_sql_statement_duration_seconds', { type: 'other' })).toBe(1);
    expect(value(rm, 'weft_sql_queries', { tenant: 'alice' })).toBe(2);
    expect(value(rm, 'weft_sql_queries', { tenant: 'acme' })).toBe(3);
    expect(value(rm, 'weft_sql_sessions_opened')).toBe(1);
  });
});
