import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Counter, type Histogram, type Meter, type Span } from '@opentelemetry/api';
import {
  PgError,
  type ColumnInfo,
  type ExecuteRequest,
  type PreparedStatement,
  type QueryContext,
  type SessionFactory,
  type SessionHandler,
  type StatementResult,
  type TransactionStatus,
} from '@weft/pgwire';
import { BoundedLabel, secondsHistogram } from '@weft/telemetry';
import type { ConsoleFeed } from './console/console-feed';

/** Statement types, the `type` label: a fixed set so the series count stays bounded. */
export type StatementType = 'select' | 'insert' | 'update' | 'delete' | 'begin' | 'commit' | 'rollback' | 'ddl' | 'copy' | 'utility' | 'other';

const KEYWORD_TYPES: Readonly<Record<string, StatementType>> = {
  select: 'select',
  values: 'select',
  table: 'select',
  with: 'select',
  explain: 'select',
  show: 'utility',
  insert: 'insert',
  update: 'update',
  delete: 'delete',
  begin: 'begin',
  start: 'begin',
  commit: 'commit',
  end: 'commit',
  rollback: 'rollback',
  abort: 'rollback',
  savepoint: 'utility',
  release: 'utility',
  create: 'ddl',
  alter: 'ddl',
  drop: 'ddl',
  truncate: 'ddl',
  comment: 'ddl',
  grant: 'ddl',
  revoke: 'ddl',
  copy: 'copy',
  set: 'utility',
  reset: 'utility',
  prepare: 'utility',
  execute: 'utility',
  deallocate: 'utility',
  discard: 'utility',
  listen: 'utility',
  notify: 'utility',
};

/** The type of a statement from its leading keyword (SQL text or command tag). */
export function statementType(textOrTag: string): StatementType {
  // Skip leading whitespace, comments and parentheses ("(SELECT 1)", "/* app */ INSERT").
  const m = /^(?:\s|--[^\n]*\n?|\/\*[\s\S]*?\*\/|\()*([A-Za-z]+)/.exec(textOrTag);
  return (m && KEYWORD_TYPES[m[1].toLowerCase()]) || 'other';
}

/** Why a transaction ended without committing: the `reason` label of weft_txn_aborts_total. */
export type AbortReason = 'conflict' | 'unique_violation' | 'timeout' | 'unknown' | 'rollback' | 'error';

/**
 * conflict: serialization failure or deadlock (40001, 40P01); unique_violation: 23505; timeout:
 * statement/lock/idle timeouts and cancels (57014, 55P03, 25P03); unknown: the outcome of a
 * commit is unknown (40003) or the server failed internally (XX000, non-SQL errors); rollback:
 * the client rolled back; error: any other SQL error (constraint, syntax, type...).
 */
export function abortReason(code: string | undefined): AbortReason {
  switch (code) {
    case '40001':
    case '40P01':
      return 'conflict';
    case '23505':
      return 'unique_violation';
    case '57014':
    case '55P03':
    case '25P03':
      return 'timeout';
    case undefined:
    case '40003':
    case 'XX000':
      return 'unknown';
    default:
      return 'error';
  }
}

/** Tenants tracked individually in weft_sql_queries_total; later ones count as "other". */
export const MAX_TENANTS = 100;

/**
 * SQL-level metrics of the gateway, recorded per statement by the session wrapper
 * (`instrument`). Tenant: the session's `weft.tenant` setting (SET weft.tenant = 'acme', or a
 * startup parameter of that name), else the role the session logged in as.
 */
export class SqlMetrics {
  private readonly latency: Histogram;
  private readonly queries: Counter;
  private readonly errors: Counter;
  private readonly commits: Counter;
  private readonly aborts: Counter;
  private readonly opened: Counter;
  private readonly tenants = new BoundedLabel(MAX_TENANTS);
  private readonly typeAttrs = new Map<StatementType, Attributes>();
  private readonly tenantAttrs = new Map<string, Attributes>();
  private readonly reasonAttrs = new Map<AbortReason, Attributes>();
  private active = 0;

  constructor(
    meter: Meter,
    /** The web console's feed (sessions, recent latencies, slowest statements), if served. */
    readonly feed?: ConsoleFeed,
  ) {
    this.latency = secondsHistogram(meter, 'weft_sql_statement_duration_seconds', 'Time the gateway spends on a statement, by statement type (extended protocol: until Execute returns)');
    this.queries = meter.createCounter('weft_sql_queries', { description: 'Statements run, by tenant (weft.tenant setting, else the role)' });
    this.errors = meter.createCounter('weft_sql_statement_errors', { description: 'Statements that failed, by type and SQLSTATE' });
    this.commits = meter.createCounter('weft_txn_commits', { description: 'Transactions committed (explicit COMMIT or an implicit single-statement transaction)' });
    this.aborts = meter.createCounter('weft_txn_aborts', { description: 'Transactions that ended without committing, by reason' });
    this.opened = meter.createCounter('weft_sql_sessions_opened', { description: 'SQL sessions started (authenticated connections)' });
    const active = meter.createObservableGauge('weft_sql_sessions_active', { description: 'SQL sessions open now' });
    active.addCallback((o) => o.observe(this.active));
  }

  /** Wraps a SessionFactory so every session it makes records these metrics. */
  instrument<S extends PreparedStatement>(factory: SessionFactory<S>): SessionFactory<S> {
    return async (info) => {
      const made = await factory(info);
      this.opened.add(1);
      this.active++;
      this.feed?.opened(info.pid, info.user, info.applicationName, info.remoteAddress);
      return { ...made, handler: new InstrumentedSession(made.handler, this, info.user, info.pid) };
    };
  }

  statement(type: StatementType, seconds: number, tenant: string, pid: number): void {
    this.latency.record(seconds, this.forType(type));
    this.feed?.ended(pid, type, seconds * 1000, tenant);
    let a = this.tenantAttrs.get(tenant);
    if (!a) {
      a = { tenant: this.tenants.value(tenant) };
      this.tenantAttrs.set(tenant, a);
    }
    this.queries.add(1, a);
  }

  failed(type: StatementType, code: string | undefined): void {
    this.errors.add(1, { type, code: code ?? 'internal' });
  }

  committed(): void {
    this.commits.add(1);
    if (this.feed) this.feed.commits++;
  }

  aborted(reason: AbortReason): void {
    let a = this.reasonAttrs.get(reason);
    if (!a) {
      a = { reason };
      this.reasonAttrs.set(reason, a);
    }
    this.aborts.add(1, a);
    if (this.feed) this.feed.aborts++;
  }

  sessionClosed(pid: number): void {
    this.active--;
    this.feed?.closed(pid);
  }

  private forType(type: StatementType): Attributes {
    let a = this.typeAttrs.get(type);
    if (!a) {
      a = { type };
      this.typeAttrs.set(type, a);
    }
    return a;
  }
}

const codeOf = (e: unknown): string | undefined => (e instanceof PgError ? e.code : undefined);

/** Settings as the SQL engine's session exposes them (read for weft.tenant). */
interface WithSettings {
  readonly settings?: { get(name: string): string | undefined };
}

/**
 * A SessionHandler that delegates everything and, around each statement, records its latency,
 * tenant and outcome, and follows the transaction status to count commits and aborts:
 * idle→idle after a statement is an implicit transaction's commit, in-block→idle is a COMMIT
 * (or a ROLLBACK, reason rollback), and an error outside a failed block aborts the transaction.
 */
class InstrumentedSession<S extends PreparedStatement> implements SessionHandler<S> {
  private readonly texts = new WeakMap<S, { type: StatementType; text: string }>();
  private readonly tracer = trace.getTracer('weft-gateway');

  constructor(
    private readonly inner: SessionHandler<S>,
    private readonly m: SqlMetrics,
    private readonly user: string,
    private readonly pid: number,
  ) {}

  async *simpleQuery(sql: string, ctx: QueryContext): AsyncIterable<StatementResult> {
    const { span, active } = this.startSpan(statementType(sql));
    let before = this.inner.transactionStatus();
    let t = performance.now();
    try {
      const it = iteratorOf(this.inner.simpleQuery(sql, ctx));
      for (;;) {
        this.m.feed?.started(this.pid, sql);
        // The engine runs inside the statement's span, so the KV calls it makes carry its trace.
        const n: IteratorResult<StatementResult> = await context.with(active, () => it.next());
        if (n.done) break;
        const r = n.value;
        const after = this.inner.transactionStatus();
        // Rows stream while we are suspended in yield: the time until the client asks for the
        // next result includes sending them.
        yield r;
        if (r.kind !== 'empty') {
          const type = resultType(r, sql);
          const now = performance.now();
          this.m.statement(type, (now - t) / 1000, this.tenant(), this.pid);
          this.transition(before, after, type);
          t = now;
        }
        before = after;
      }
    } catch (e) {
      this.failed(before, statementType(sql), e, t);
      endSpan(span, e);
      throw e;
    }
    endSpan(span);
    // Several statements ran as one implicit transaction: it committed after the last result.
    const end = this.inner.transactionStatus();
    if (before === 'T' && end === 'I') this.m.committed();
  }

  async prepare(sql: string, paramTypes: readonly number[], ctx: QueryContext): Promise<S> {
    const before = this.inner.transactionStatus();
    try {
      const s = await this.inner.prepare(sql, paramTypes, ctx);
      this.texts.set(s, { type: statementType(sql), text: sql });
      return s;
    } catch (e) {
      // A parse error inside a block fails the transaction; outside one there is none.
      if (before === 'T' && this.inner.transactionStatus() === 'E') this.m.aborted(abortReason(codeOf(e)));
      throw e;
    }
  }

  async execute(req: ExecuteRequest<S>, ctx: QueryContext): Promise<StatementResult> {
    const before = this.inner.transactionStatus();
    const prepared = this.texts.get(req.statement);
    const type = prepared?.type ?? 'other';
    this.m.feed?.started(this.pid, prepared?.text ?? '');
    const { span, active } = this.startSpan(type);
    const t = performance.now();
    try {
      const r = await context.with(active, () => this.inner.execute(req, ctx));
      this.m.statement(type, (performance.now() - t) / 1000, this.tenant(), this.pid);
      this.transition(before, this.inner.transactionStatus(), type);
      endSpan(span);
      return r;
    } catch (e) {
      this.failed(before, type, e, t);
      endSpan(span, e);
      throw e;
    }
  }

  closeStatement(statement: S): void {
    this.inner.closeStatement?.(statement);
  }

  /** Describe of a DECLAREd cursor (psycopg's named cursors): the engine's answer, unchanged. */
  describeCursor(name: string): readonly ColumnInfo[] | null | undefined {
    return this.inner.describeCursor?.(name);
  }

  transactionStatus(): TransactionStatus {
    return this.inner.transactionStatus();
  }

  async close(): Promise<void> {
    this.m.sessionClosed(this.pid);
    await this.inner.close?.();
  }

  /**
   * A span for one statement (one simple-query string), named by its type. The SQL text is not
   * recorded: it may carry personal data, and traces often leave the database's trust boundary.
   */
  private startSpan(type: StatementType): { span: Span; active: Context } {
    const span = this.tracer.startSpan(`sql ${type}`, { kind: SpanKind.SERVER, attributes: { 'db.system': 'weft', 'db.operation.name': type, 'weft.tenant': this.tenant() } });
    return { span, active: trace.setSpan(context.active(), span) };
  }

  private tenant(): string {
    const t = (this.inner as WithSettings).settings?.get('weft.tenant');
    return t ? t : this.user;
  }

  private transition(before: TransactionStatus, after: TransactionStatus, type: StatementType): void {
    if (after !== 'I') return;
    if (before === 'I' && type !== 'commit' && type !== 'rollback') this.m.committed();
    else if (before === 'T') {
      if (type === 'rollback') this.m.aborted('rollback');
      else this.m.committed();
    }
  }

  /** A statement failed: its latency and tenant count like any other's, plus its error and the abort. */
  private failed(before: TransactionStatus, type: StatementType, e: unknown, startedAt: number): void {
    const code = codeOf(e);
    this.m.statement(type, (performance.now() - startedAt) / 1000, this.tenant(), this.pid);
    this.m.failed(type, code);
    // A statement in an already failed block (25P02) ends nothing new.
    if (before !== 'E') this.m.aborted(abortReason(code));
  }
}

function iteratorOf<T>(x: Iterable<T> | AsyncIterable<T>): AsyncIterator<T> | Iterator<T> {
  return Symbol.asyncIterator in x ? x[Symbol.asyncIterator]() : x[Symbol.iterator]();
}

function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : 'failed' });
    if (err instanceof PgError) span.setAttribute('db.response.status_code', err.code);
  }
  span.end();
}

/** A result's statement type: its command tag when it names one, else the SQL text's keyword. */
function resultType(r: StatementResult, sql: string): StatementType {
  const tag = r.kind === 'command' ? r.commandTag : r.kind === 'rows' && typeof r.commandTag === 'string' ? r.commandTag : undefined;
  if (tag !== undefined) return statementType(tag);
  if (r.kind === 'rows') return 'select';
  if (r.kind === 'copyIn' || r.kind === 'copyOut') return 'copy';
  return statementType(sql);
}
