// One client session: transaction state machine (idle / in block / failed), savepoints,
// settings, SQL-level and protocol-level prepared statements, and statement execution with
// implicit transactions that retry serialization failures before any row was sent.
import type { DoStmt, Node } from 'libpg-query';
import { parseDoBlock, runDoBlock, type DoParam } from './plpgsql/do-block';
import {
  PgError, type ExecuteRequest, type PgValue, type PreparedStatement, type QueryContext, type Row, type RowBatches, type SessionHandler, type StatementResult, type TransactionStatus,
} from '@weft/pgwire';
import { AssumptionFailedError, type Txn } from '@weft/txn';
import { INFORMATION_SCHEMA_ID, PG_CATALOG_ID, type Catalog, type Relation } from './catalog/catalog';
import type { ColumnDesc, SequenceDesc } from './catalog/descriptors';
import { OID_BASE } from './catalog/descriptors';
import { systemView, type SystemView } from './catalog/system-views/registry';
import { compileStatement } from './compile';
import type { Engine } from './engine';
import { S, sqlError } from './errors';
import { parseDurationUs, resolveAsOf } from './as-of';
import { kvErrorToPg } from './kv-errors';
import { parseTimeoutMs } from './timeouts';
import { RELOCATE_LEASE_PREFIX, SHOW_RANGES_COLUMNS, SHOW_RANGES_PREFIX, relocateLease, showRanges } from './show-ranges';
import { parseSql, type ParsedStatement } from './parse';
import type { PlannerEnv } from './plan/context';
import { stringOf, typeFromTypeName } from './plan/expr';
import type { Runtime, RuntimeServices, SessionInfo } from './runtime';
import { Settings, canonicalSettingName, type SettingChange, type SettingsSnapshot } from './settings';
import { STATEMENT_TIMEOUT } from './exec/nodes';
import { columnInfos, type CompiledStatement, type ExecContext } from './statement';
import { nowMicros } from './types/datetime';
import { type SqlType, type Value, t, typeByOid, typeOid } from './types/types';
import { fromPg, fromText } from './types/values';
import { PlanCache } from './plan-cache';
import { withTimeZone } from './types/timezone';
import { advisoryUnlockWarning } from './advisory-locks';
import { CURSOR_OPT, CursorSet, fetchFromPortal, SqlCursor } from './cursors';
import { describeObject, findIndexOid, regName, regOid } from './catalog/system-views/describe';

export interface SqlPrepared extends PreparedStatement {
  readonly parsed: ParsedStatement | undefined;
  readonly declared: readonly (SqlType | undefined)[];
  compiled: CompiledStatement | undefined;
  catalogVersion: bigint | undefined;
  zone?: string;
}

type State = 'idle' | 'block' | 'failed';

const TXN_END = new Set(['TRANS_STMT_COMMIT', 'TRANS_STMT_ROLLBACK', 'TRANS_STMT_ROLLBACK_TO', 'TRANS_STMT_PREPARE', 'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_ROLLBACK_PREPARED']);

export interface SessionIdentity {
  readonly user: string;
  readonly database: string;
  readonly databaseId: number;
  readonly pid: number;
}

export class SqlSession implements SessionHandler<SqlPrepared> {
  private state: State = 'idle';
  private txn: Txn | undefined;
  private txnCatalog: Catalog | undefined;
  private txnStartUs = 0n;
  private savepoints: { name: string; snapshot: ReturnType<Txn['savepoint']>; settings: SettingsSnapshot; failed: boolean }[] = [];
  private readonly sqlPrepared = new Map<string, SqlPrepared>();
  private readonly currvals = new Map<number, bigint>();
  readonly settings: Settings;
  /** DECLAREd cursors (cursors.ts). */
  private readonly cursors = new CursorSet();
  /** Counts transaction blocks, so ROLLBACK closes only the cursors its block declared. */
  private blockGeneration = 0;

  constructor(
    private readonly engine: Engine,
    private readonly id: SessionIdentity,
    startupParams: Record<string, string>,
    private readonly planCache: PlanCache,
  ) {
    this.settings = new Settings(startupParams);
  }

  transactionStatus(): TransactionStatus {
    return this.state === 'idle' ? 'I' : this.state === 'block' ? 'T' : 'E';
  }

  async *simpleQuery(sql: string, ctx: QueryContext): AsyncIterable<StatementResult> {
    let stmts: ParsedStatement[];
    try {
      stmts = this.planCache.parseCache.parse(sql);
    } catch (e) {
      this.failBlock();
      throw e;
    }
    if (stmts.length === 0) {
      yield { kind: 'empty' };
      return;
    }
    // Several statements without transaction control run as one implicit transaction, as in
    // Postgres: a failure rolls back the ones before it.
    const implicit = stmts.length > 1 && this.state === 'idle' && !stmts.some((s) => 'TransactionStmt' in s.node || 'CopyStmt' in s.node);
    if (!implicit) {
      for (const s of stmts) yield await this.run(s, [], undefined, ctx);
      return;
    }
    this.txn = this.engine.newTxn();
    this.txnStartUs = nowMicros();
    this.state = 'block';
    this.blockGeneration++;
    this.settings.beginTransaction();
    this.txnReadOnly = this.settings.get('default_transaction_read_only') === 'on';
    let done = false;
    try {
      for (const s of stmts) yield await this.run(s, [], undefined, ctx);
      const txn = this.txn;
      this.endBlock();
      done = true;
      await this.commitWithSettings(txn, ctx);
    } finally {
      if (!done) {
        this.txn?.rollback();
        this.endBlock();
        this.reportSettings(this.settings.rollbackTransaction(), ctx);
        this.cursors.rollback(this.blockGeneration);
      }
      this.engine.advisoryLocks.releaseAll(this.id.pid, 'xact');
    }
  }

  async prepare(sql: string, paramTypes: readonly number[], ctx: QueryContext): Promise<SqlPrepared> {
    try {
      return await this.prepareOne(sql, paramTypes, ctx);
    } catch (e) {
      // As in PostgreSQL, any error (a Parse that fails to plan too) aborts the transaction block.
      if (!(e instanceof PgError && e.code === S.IN_FAILED_TXN)) this.failBlock();
      throw e;
    }
  }

  private async prepareOne(sql: string, paramTypes: readonly number[], ctx: QueryContext): Promise<SqlPrepared> {
    const stmts = parseSql(sql);
    if (stmts.length > 1) throw sqlError(S.SYNTAX_ERROR, 'cannot insert multiple commands into a prepared statement');
    // A user type's OID (an enum) is looked up in the catalog when the statement is planned.
    const declared = paramTypes.map((oid) => (oid === 0 ? undefined : (typeByOid(oid) ?? (this.txnCatalog ?? this.engine.cachedCatalog)?.typeByOid(oid) ?? t('text'))));
    const p: SqlPrepared = { parsed: stmts[0], declared, compiled: undefined, catalogVersion: undefined, paramTypes: [], columns: null };
    if (!stmts[0]) return { ...p, paramTypes: paramTypes.map((x) => x || 25) };
    if (this.state === 'failed' && !this.isTxnEnd(stmts[0].node)) throw this.abortedError();
    if ('DeclareCursorStmt' in stmts[0].node) {
      // DECLARE's parameters are its query's ($1 in `DECLARE c CURSOR FOR SELECT ... $1`).
      const inner: ParsedStatement = { node: stmts[0].node.DeclareCursorStmt.query as Node, text: declaredQueryText(stmts[0].text), offset: 0 };
      const compiled = await this.withReadTxn(async (exec) => withTimeZone(this.timeZone(), () => this.compile(inner, declared, exec.env, exec.catalog)), ctx);
      return { ...p, paramTypes: compiled.c.paramTypes.map((x) => typeOidOf(x)), columns: null };
    }
    if (isSessionStatement(stmts[0].node)) return { ...p, paramTypes: [...paramTypes], columns: this.sessionStatementColumns(stmts[0].node, ctx) };
    // DO has no plan: its body is parsed and run at Execute (execWith), as PostgreSQL does.
    if ('DoStmt' in stmts[0].node) return { ...p, paramTypes: [], columns: null };
    const compiled = await this.withReadTxn(async (exec) => withTimeZone(this.timeZone(), () => this.compile(stmts[0], declared, exec.env, exec.catalog)), ctx);
    p.compiled = compiled.c;
    p.catalogVersion = compiled.version;
    p.zone = this.timeZone();
    return Object.assign(p, {
      paramTypes: compiled.c.paramTypes.map((x) => typeOidOf(x)),
      columns: compiled.c.columns ? columnInfos(compiled.c.columns) : null,
    });
  }

  async execute(req: ExecuteRequest<SqlPrepared>, ctx: QueryContext): Promise<StatementResult> {
    const st = req.statement;
    if (!st.parsed) return { kind: 'empty' };
    return this.run(st.parsed, req.params, st, ctx);
  }

  closeStatement(): void {}

  describeCursor(name: string): SqlPrepared['columns'] | undefined {
    return this.cursors.has(name) ? [...this.cursors.get(name).columns] : undefined;
  }

  close(): void {
    this.txn?.rollback();
    this.txn = undefined;
    this.cursors.closeAll();
    this.engine.advisoryLocks.releaseAll(this.id.pid, 'xact');
    this.engine.advisoryLocks.releaseAll(this.id.pid, 'session');
  }

  // -------------------------------------------------------------------------------------------

  private isTxnEnd(node: Node): boolean {
    return 'TransactionStmt' in node && TXN_END.has(node.TransactionStmt.kind ?? '');
  }

  private abortedError(): PgError {
    return sqlError(S.IN_FAILED_TXN, 'current transaction is aborted, commands ignored until end of transaction block');
  }

  private failBlock(): void {
    if (this.state === 'block') this.state = 'failed';
  }

  private async run(stmt: ParsedStatement, params: readonly PgValue[], prepared: SqlPrepared | undefined, ctx: QueryContext): Promise<StatementResult> {
    const node = stmt.node;
    // Advisory locks this session held were given up (their lease could not be renewed): FATAL.
    this.engine.advisoryLocks.checkLost(this.id.pid);
    if (this.state === 'failed' && !this.isTxnEnd(node)) throw this.abortedError();
    // A statement outside a block may read at a time the user chose (see kvErrorToPg).
    const userTimestamp = this.state !== 'block' && stmt.asOf !== undefined;
    try {
      if ('TransactionStmt' in node) return await this.transaction(node.TransactionStmt, ctx);
      const session = await this.sessionStatement(node, stmt, params, ctx);
      if (session) return session;
      const timeoutMs = parseTimeoutMs(this.settings.get('statement_timeout') ?? '0');
      if (timeoutMs <= 0) return await this.runData(stmt, params, prepared, ctx);
      // statement_timeout: a signal that fires on the client's cancel or on the timer.
      const ac = new AbortController();
      const onCancel = (): void => ac.abort(ctx.signal.reason);
      ctx.signal.addEventListener('abort', onCancel);
      const timer = setTimeout(() => ac.abort(STATEMENT_TIMEOUT), timeoutMs);
      try {
        return await this.runData(stmt, params, prepared, { ...ctx, signal: ac.signal });
      } finally {
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onCancel);
      }
    } catch (e) {
      this.failBlock();
      throw withPosition(kvErrorToPg(e, { userTimestamp }), stmt);
    } finally {
      // Transaction-level advisory locks end with the transaction (autocommit: the statement).
      if (this.state === 'idle') this.engine.advisoryLocks.releaseAll(this.id.pid, 'xact');
    }
  }

  /** Runs a data/DDL statement in the open block, or in an implicit transaction with retries. */
  private async runData(stmt: ParsedStatement, params: readonly PgValue[], prepared: SqlPrepared | undefined, ctx: QueryContext): Promise<StatementResult> {
    if (this.state === 'block' && this.txn) {
      if (stmt.asOf !== undefined) {
        throw sqlError(S.FEATURE_NOT_SUPPORTED, 'AS OF SYSTEM TIME is not supported inside a transaction block', {
          hint: 'Run the statement on its own, outside BEGIN ... COMMIT.',
        });
      }
      // A chunk of this statement's writes refused by the shard (duplicate key, conflict) fails
      // this statement, not a later one: wait for the chunks it sent before reporting success.
      const txn = this.txn;
      const result = await this.execIn(txn, stmt, params, prepared, ctx, false);
      if (result.kind !== 'copyIn') {
        await txn.settle();
        return result;
      }
      // An error while the rows stream in fails the transaction block, as any statement's does.
      const failing = async <T>(f: () => T | Promise<T>): Promise<T> => {
        try {
          return await f();
        } catch (e) {
          this.failBlock();
          throw e;
        }
      };
      return {
        ...result,
        write: (chunk) => failing(() => result.write(chunk)),
        end: () => failing(async () => {
          const tag = await result.end();
          await txn.settle();
          return tag;
        }),
        abort: async (reason) => {
          this.failBlock();
          await result.abort(reason);
        },
      };
    }
    const isDb = 'CreatedbStmt' in stmt.node || 'DropdbStmt' in stmt.node;
    void isDb;
    let attempt = 0;
    const asOf = this.readAsOf(stmt);
    for (;;) {
      const txn = this.engine.newTxn(asOf === undefined ? {} : { asOf });
      this.txnStartUs = nowMicros();
      // set_config(..., true) in an autocommitted statement lasts until the statement ends.
      this.settings.beginTransaction();
      try {
        const result = await this.execIn(txn, stmt, params, prepared, ctx, true);
        if (result.kind === 'copyIn') {
          this.reportSettings(this.settings.commitTransaction(), ctx);
          return this.autocommitCopy(txn, result);
        }
        await txn.commit();
        this.reportSettings(this.settings.commitTransaction(), ctx);
        if (txn.hasWrites) this.afterCommit();
        return result;
      } catch (caught) {
        const e = kvErrorToPg(caught, { userTimestamp: asOf !== undefined });
        txn.rollback();
        this.reportSettings(this.settings.rollbackTransaction(), ctx);
        if (e instanceof PgError && e.code === S.SERIALIZATION_FAILURE && attempt < this.engine.maxRetries && !ctx.signal.aborted) {
          attempt++;
          // A retry would conflict with the failed attempt's staged intents: wait until they are gone.
          await txn.cleanedUp;
          await new Promise((r) => setTimeout(r, Math.random() * 2 ** attempt));
          continue;
        }
        throw e;
      } finally {
        this.txnCatalog = undefined;
      }
    }
  }

  /**
   * The past timestamp a statement outside a block reads at: its AS OF SYSTEM TIME clause, or,
   * for a plain SELECT under weft.max_staleness, that far back. Undefined: a strong read.
   */
  private readAsOf(stmt: ParsedStatement): bigint | undefined {
    const nowUs = BigInt(Date.now()) * 1000n;
    if (stmt.asOf !== undefined) return resolveAsOf(stmt.asOf, nowUs);
    const staleness = this.settings.get('weft.max_staleness') ?? '0';
    if (staleness === '0' || !('SelectStmt' in stmt.node) || (stmt.node.SelectStmt.lockingClause ?? []).length > 0 || stmt.node.SelectStmt.intoClause) return undefined;
    const us = parseDurationUs(staleness);
    return us === undefined || us === 0n ? undefined : nowUs - us;
  }

  private autocommitCopy(txn: Txn, r: Extract<StatementResult, { kind: 'copyIn' }>): StatementResult {
    return {
      ...r,
      end: async () => {
        const tag = await r.end();
        await txn.commit();
        this.afterCommit();
        return tag;
      },
      abort: async (reason) => {
        await r.abort(reason);
        txn.rollback();
      },
    };
  }

  /** Commits a transaction block's txn, then keeps (or on failure undoes) its settings. */
  private async commitWithSettings(txn: Txn | undefined, ctx: QueryContext): Promise<void> {
    try {
      // WITH HOLD cursors read their remaining rows in the transaction that declared them.
      await this.cursors.commit();
      if (txn) await txn.commit();
    } catch (e) {
      this.reportSettings(this.settings.rollbackTransaction(), ctx);
      this.cursors.rollback(this.blockGeneration);
      throw e;
    }
    this.reportSettings(this.settings.commitTransaction(), ctx);
    if (txn?.hasWrites) this.afterCommit();
  }

  /** ParameterStatus for reported settings a transaction's end (or ROLLBACK TO) changed. */
  private reportSettings(changes: readonly SettingChange[], ctx: QueryContext): void {
    for (const c of changes) ctx.setParameter(c.name, c.value);
  }

  /**
   * The gateway's catalog cache is keyed by the catalog version every transaction reads, and
   * every DDL bumps that version: a data write never makes it stale, so nothing is dropped
   * here (dropping it after every write made the next transaction re-read every descriptor).
   */
  private afterCommit(): void {
    this.commits++;
  }

  /** Transactions with writes this session committed. */
  commits = 0;

  private plannerEnv(catalog: Catalog): PlannerEnv {
    const session = this.sessionInfo(catalog);
    return {
      catalog,
      session,
      resolveRelation: (schema, name) => resolveRelation(catalog, session, schema, name),
      missingValue: (c: ColumnDesc): Value => (c.missingValue === undefined ? null : fromText(c.missingValue, c.type)),
    };
  }

  /** Session facts; search_path keeps only schemas that exist (as current_schema() reports). */
  sessionInfo(catalog?: Catalog): SessionInfo {
    const settings = this.settings;
    const dbId = this.id.databaseId;
    const path = settings.searchPath(this.id.user).filter((s) => !catalog || s === 'pg_catalog' || s === 'information_schema' || catalog.schema(dbId, s) !== undefined);
    return {
      user: this.id.user,
      database: this.id.database,
      databaseId: this.id.databaseId,
      pid: this.id.pid,
      searchPath: path,
      setting: (n) => settings.get(n),
      cursors: () => this.cursors.list(),
    };
  }

  private compile(stmt: ParsedStatement, declared: readonly (SqlType | undefined)[], env: PlannerEnv, catalog: Catalog): { c: CompiledStatement; version: bigint } {
    return { c: compileStatement(stmt.node, env, declared, stmt.text), version: catalog.version };
  }

  /**
   * Plans (Parse, Describe, session statements) with the transaction's catalog, else with the
   * gateway's cached one without a round trip: Execute checks the version before it runs
   * anything (execIn), and a plan whose result shape changed by then fails with 0A000, as a
   * PostgreSQL cached plan does. An error planned from the cache (a table created since
   * through another gateway) is only reported once the cache proves current.
   */
  private async withReadTxn<T>(fn: (exec: { env: PlannerEnv; catalog: Catalog }) => Promise<T> | T, _ctx: QueryContext): Promise<T> {
    try {
      if (this.txnCatalog !== undefined) return await fn({ env: this.plannerEnv(this.txnCatalog), catalog: this.txnCatalog });
      const cached = this.engine.cachedCatalog;
      if (cached !== undefined) {
        try {
          return await fn({ env: this.plannerEnv(cached), catalog: cached });
        } catch (e) {
          if (await this.engine.isCurrent(cached)) throw e;
        }
      }
      const txn = this.txn ?? this.engine.newTxn();
      const catalog = await this.engine.catalogFor(txn);
      return await fn({ env: this.plannerEnv(catalog), catalog });
    } catch (e) {
      // Parse/Describe and session statements reach the KV layers here too (not only run()).
      throw kvErrorToPg(e);
    }
  }

  /**
   * Runs one statement in `txn`. The first statement of a transaction plans with the gateway's
   * cached catalog and only assumes its version (Engine.assumeCachedCatalog): the check rides
   * along the statement's first read, and is made explicitly before the statement returns, so
   * no result leaves unchecked. If the version moved on (DDL through another gateway), or the
   * statement failed while the check was still pending (the error may come from the stale
   * catalog itself: a table created since), its buffered writes are rolled back and it runs
   * again, once, with the catalog of the transaction's snapshot.
   */
  private async execIn(txn: Txn, stmt: ParsedStatement, params: readonly PgValue[], prepared: SqlPrepared | undefined, ctx: QueryContext, implicit: boolean): Promise<StatementResult> {
    const assumed = this.txnCatalog === undefined ? this.engine.assumeCachedCatalog(txn) : undefined;
    if (assumed === undefined) return this.execWith(txn, this.txnCatalog ?? (await this.engine.catalogFor(txn)), stmt, params, prepared, ctx, implicit);
    const before = txn.savepoint();
    try {
      const result = await this.execWith(txn, assumed, stmt, params, prepared, ctx, implicit);
      await txn.checkAssumption();
      return result;
    } catch (e) {
      if (!(e instanceof AssumptionFailedError)) {
        if (!txn.assumptionPending) throw e;
        const stale = await txn.checkAssumption().then(() => false, (c: unknown) => {
          if (c instanceof AssumptionFailedError) return true;
          throw e;
        });
        if (!stale) throw e;
      }
      txn.rollbackTo(before);
      this.txnCatalog = undefined;
      const fresh = await this.engine.catalogAfterFailedAssumption(txn);
      return this.execWith(txn, fresh, stmt, params, prepared, ctx, implicit);
    }
  }

  private async execWith(txn: Txn, planCatalog: Catalog, stmt: ParsedStatement, params: readonly PgValue[], prepared: SqlPrepared | undefined, ctx: QueryContext, implicit: boolean): Promise<StatementResult> {
    if ('DoStmt' in stmt.node) return this.runDo(txn, planCatalog, stmt.node.DoStmt, ctx, implicit);
    let catalog = planCatalog;
    if (txn.hasWrites || !implicit) this.txnCatalog = catalog;
    const env = this.plannerEnv(catalog);
    let compiled: CompiledStatement;
    // Plans fold constants (timestamptz literals) in the session TimeZone: it is part of the key.
    const zone = this.timeZone();
    const compile = (declared: readonly (SqlType | undefined)[]): CompiledStatement => withTimeZone(zone, () => compileStatement(stmt.node, env, declared, stmt.text));
    if (prepared?.compiled && prepared.catalogVersion === catalog.version && prepared.zone === zone && !this.txnCatalogDirty) {
      compiled = prepared.compiled;
    } else if (prepared) {
      // Planned again under a newer catalog: the parameter types the client was told at Parse
      // stay, and the result shape it was told must not change (PostgreSQL: 0A000).
      compiled = compile(prepared.compiled ? prepared.paramTypes.map((oid) => typeByOid(oid) ?? catalog.typeByOid(oid) ?? t('text')) : prepared.declared);
      if (prepared.columns && !sameShape(prepared.columns, compiled.columns ? columnInfos(compiled.columns) : [])) {
        throw sqlError(S.FEATURE_NOT_SUPPORTED, 'cached plan must not change result type', { hint: 'Prepare the statement again.' });
      }
      if (compiled.cacheable && !this.txnCatalogDirty) {
        prepared.compiled = compiled;
        prepared.catalogVersion = catalog.version;
        prepared.zone = zone;
      }
    } else {
      const key = `${this.id.databaseId}\u0000${this.settings.get('search_path')}\u0000${zone}\u0000${stmt.text}`;
      const hit = this.txnCatalogDirty ? undefined : this.planCache.get(key, catalog.version);
      if (hit) compiled = hit;
      else {
        compiled = compile([]);
        if (compiled.cacheable && !this.txnCatalogDirty) this.planCache.set(key, catalog.version, compiled);
      }
    }
    if (!compiled.readOnly && (this.state === 'block' ? this.txnReadOnly : this.settings.get('default_transaction_read_only') === 'on')) {
      throw sqlError('25006', `cannot execute ${compiled.kind} in a read-only transaction`);
    }
    const paramValues = params.map((v, i) => fromPg(v, compiled.paramTypes[i] ?? t('text')));
    if (paramValues.length < compiled.paramTypes.length) {
      throw sqlError('08P01', `bind message supplies ${params.length} parameters, but prepared statement requires ${compiled.paramTypes.length}`);
    }
    let changed = false;
    const exec: ExecContext = {
      txn,
      catalog,
      rt: this.runtime(txn, catalog, paramValues, ctx),
      engine: this.engine,
      query: ctx,
      env,
      catalogChanged: () => {
        changed = true;
      },
    };
    if (('CreatedbStmt' in stmt.node || 'DropdbStmt' in stmt.node) && !implicit) {
      throw sqlError(S.ACTIVE_SQL_TXN, `${'CreatedbStmt' in stmt.node ? 'CREATE' : 'DROP'} DATABASE cannot run inside a transaction block`);
    }
    const result = await withTimeZone(this.timeZone(), () => compiled.execute(exec));
    if (changed) {
      // This gateway's cache is stale once the DDL commits: reload rather than fail a check.
      this.engine.invalidateCatalog();
      catalog = await this.engine.reloadCatalog(txn);
      this.txnCatalog = catalog;
      this.txnCatalogDirty = true;
    }
    if (result.kind === 'rows' && compiled.columns) return { ...result, columns: columnInfos(compiled.columns) };
    return result;
  }

  /**
   * DO: the block's statements run one by one in this statement's transaction, each planned
   * against the catalog as the statements before it left it (see plpgsql/do-block.ts).
   */
  private async runDo(txn: Txn, catalog: Catalog, d: DoStmt, ctx: QueryContext, implicit: boolean): Promise<StatementResult> {
    const program = parseDoBlock(doBlockBody(d));
    if (txn.hasWrites || !implicit) this.txnCatalog = catalog;
    const current = (): Catalog => this.txnCatalog ?? catalog;
    const one = async (sql: string, params: readonly DoParam[]): Promise<StatementResult> => {
      const stmts = parseSql(sql);
      if (stmts.length !== 1) throw sqlError(S.SYNTAX_ERROR, `a DO block statement must be one SQL statement: ${sql}`);
      const node = stmts[0].node;
      const kind = Object.keys(node)[0] ?? '';
      if (kind in SESSION_STATEMENTS) throw sqlError(S.FEATURE_NOT_SUPPORTED, `${SESSION_STATEMENTS[kind]} is not supported in DO blocks`);
      // Variables arrive as parameters of their own types (planned like a prepared statement's).
      const typed: SqlPrepared | undefined = params.length === 0 ? undefined : { parsed: stmts[0], declared: params.map((p) => p.type), compiled: undefined, catalogVersion: undefined, paramTypes: [], columns: null };
      return this.execWith(txn, current(), stmts[0], params.map((p) => p.value), typed, ctx, implicit).catch((e: unknown) => {
        throw unpositioned(kvErrorToPg(e));
      });
    };
    // A position inside one of the block's statements does not point into the DO statement.
    const unpositioned = (e: unknown): unknown => (e instanceof PgError && e.fields.position !== undefined ? new PgError(e.code, e.message, { ...e.fields, position: undefined }, e.severity) : e);
    await runDoBlock(program, {
      run: async (sql, params) => {
        const r = await one(sql, params);
        if (r.kind !== 'rows') return { kind: 'count', rowCount: rowCountOf(r) };
        const cat = current();
        const columns = r.columns.map((c) => ({ name: c.name, type: typeByOid(c.typeOid) ?? cat.typeByOid(c.typeOid) ?? t('text') }));
        return { kind: 'rows', columns, rows: await allRows(r.rows, r.batches) };
      },
      columnsOf: (schema, name) => {
        const rel = resolveRelation(current(), this.sessionInfo(current()), schema, name);
        return rel === undefined ? undefined : 'columns' in rel ? rel.columns.map((c) => c.name) : undefined;
      },
      columnTypesOf: (schema, name) => {
        const rel = resolveRelation(current(), this.sessionInfo(current()), schema, name);
        if (rel === undefined || !('columns' in rel)) return undefined;
        return rel.columns.filter((c) => !('hidden' in c && c.hidden === true)).map((c) => ({ name: c.name, type: c.type }));
      },
      savepoint: async () => txn.savepoint(),
      rollbackTo: async (mark) => {
        txn.rollbackTo(mark as ReturnType<Txn['savepoint']>);
        // DDL the rolled-back statements made is gone: plan the rest with the catalog as it is now.
        if (this.txnCatalogDirty) {
          this.engine.invalidateCatalog();
          this.txnCatalog = await this.engine.reloadCatalog(txn);
        }
      },
      notice: (severity, message) => ctx.notice({ severity, code: severity === 'WARNING' ? '01000' : '00000', message }),
    });
    return { kind: 'command', commandTag: 'DO' };
  }

  private timeZone(): string {
    return this.settings.get('timezone') ?? 'UTC';
  }

  /** Set once DDL ran in the current transaction: plans built from it must not be cached. */
  private txnCatalogDirty = false;
  /** BEGIN READ ONLY / SET TRANSACTION READ ONLY: writes fail with 25006. */
  private txnReadOnly = false;

  private runtime(txn: Txn, catalog: Catalog, params: Value[], ctx: QueryContext): Runtime {
    const session = this.sessionInfo(catalog);
    const seq = (name: string | number): SequenceDesc => {
      if (typeof name === 'number') {
        const d = catalog.byId.get(name - OID_BASE);
        if (d?.kind !== 'sequence') throw sqlError(S.WRONG_OBJECT_TYPE, `"${regName(catalog, 'regclass', name)}" is not a sequence`);
        return d;
      }
      const parts = name.split('.');
      const rel = resolveRelation(catalog, session, parts.length > 1 ? parts[0] : undefined, parts[parts.length - 1].replace(/^"(.*)"$/, '$1'));
      if (!rel || 'rows' in rel || rel.kind !== 'sequence') throw sqlError(S.UNDEFINED_TABLE, `relation "${name}" does not exist`);
      return rel;
    };
    const services: RuntimeServices = {
      nextval: async (name) => {
        const s = seq(name);
        const v = await this.engine.nextval(s);
        this.currvals.set(s.id, v);
        return v;
      },
      currval: (name) => {
        const s = seq(name);
        const v = this.currvals.get(s.id);
        if (v === undefined) throw sqlError('55000', `currval of sequence "${s.name}" is not yet defined in this session`);
        return v;
      },
      setval: async (name, value, isCalled) => {
        const s = seq(name);
        const v = await this.engine.setval(s, value, isCalled);
        if (isCalled) this.currvals.set(s.id, v);
        return v;
      },
      sequenceState: (name) => this.engine.sequenceState(seq(name)),
      setConfig: (name, value, isLocal) => {
        const r = value === null ? this.settings.reset(name, isLocal) : this.settings.set(name, value, isLocal);
        if (r.report) ctx.setParameter(r.name, r.value);
        return r.value;
      },
      regclass: (name) => {
        // [database.]schema.relation, each part optionally double-quoted.
        const parts = splitQualified(name);
        if (parts.length === 3 && parts[0] !== session.database) throw sqlError(S.FEATURE_NOT_SUPPORTED, `cross-database references are not implemented: "${name}"`);
        const schemaName = parts.length > 1 ? parts[parts.length - 2] : undefined;
        const rel = resolveRelation(catalog, session, schemaName, parts[parts.length - 1]);
        if (!rel) {
          const index = findIndexOid(catalog, session, schemaName, parts[parts.length - 1]);
          if (index !== undefined) return index;
          throw sqlError(S.UNDEFINED_TABLE, `relation "${name}" does not exist`);
        }
        return 'rows' in rel ? rel.oid : rel.id + OID_BASE;
      },
      describe: (what, oid, column) => describeObject(catalog, session, what, oid, column),
      advisoryLock: (key, mode, scope, wait) => this.engine.advisoryLocks.acquire(this.id.pid, key, mode, scope, wait, ctx.signal),
      advisoryUnlock: (key, mode) => {
        const released = this.engine.advisoryLocks.release(this.id.pid, key, mode);
        if (!released) ctx.notice(advisoryUnlockWarning(mode));
        return released;
      },
      advisoryUnlockAll: () => this.engine.advisoryLocks.releaseAll(this.id.pid, 'session'),
      regName: (kind, oid) => regName(catalog, kind, oid, session),
      regOid: (kind, name) => {
        // Every reg* type reads a bare number as the OID itself, as PostgreSQL's input does
        // (psql's \d casts '16500'::regclass).
        if (/^\s*\d+\s*$/.test(name)) return Number(name);
        if (kind === 'regclass') return services.regclass(name);
        return regOid(catalog, session, kind, name);
      },
      relname: (oid) => {
        const d = catalog.byId.get(oid - OID_BASE);
        return d && 'name' in d ? d.name : String(oid);
      },
    };
    return {
      params,
      txn,
      session,
      txnStartUs: this.state === 'block' ? this.txnStartUs : nowMicros(),
      statementStartUs: nowMicros(),
      slotValues: new Map(),
      signal: ctx.signal,
      services,
    };
  }

  // -------------------------------------------------------------------------------------------
  // transaction control

  private async transaction(ts: import('libpg-query').TransactionStmt, ctx: QueryContext): Promise<StatementResult> {
    const kind = ts.kind ?? '';
    const tag = (s: string): StatementResult => ({ kind: 'command', commandTag: s });
    switch (kind) {
      case 'TRANS_STMT_BEGIN':
      case 'TRANS_STMT_START': {
        this.checkIsolation(ts.options ?? []);
        if (this.state !== 'idle') {
          ctx.notice({ severity: 'WARNING', code: '25001', message: 'there is already a transaction in progress' });
          return tag('BEGIN');
        }
        this.beginBlock(readOnlyOption(ts.options ?? []) ?? this.settings.get('default_transaction_read_only') === 'on');
        return tag(kind === 'TRANS_STMT_BEGIN' ? 'BEGIN' : 'START TRANSACTION');
      }
      case 'TRANS_STMT_COMMIT': {
        if (this.state === 'idle') {
          // Postgres: a plain COMMIT outside a block warns; COMMIT AND CHAIN is an error.
          if (ts.chain) throw sqlError(S.NO_ACTIVE_SQL_TXN, 'COMMIT AND CHAIN can only be used in transaction blocks');
          ctx.notice({ severity: 'WARNING', code: '25P01', message: 'there is no transaction in progress' });
          return tag('COMMIT');
        }
        const failed = this.state === 'failed';
        const readOnly = this.txnReadOnly;
        const txn = this.txn;
        this.endBlock();
        if (failed) {
          txn?.rollback();
          this.reportSettings(this.settings.rollbackTransaction(), ctx);
          this.cursors.rollback(this.blockGeneration);
          if (ts.chain) this.beginBlock(readOnly);
          return tag('ROLLBACK');
        }
        await this.commitWithSettings(txn, ctx);
        // AND CHAIN: a new transaction with the same characteristics starts at once.
        if (ts.chain) this.beginBlock(readOnly);
        return tag('COMMIT');
      }
      case 'TRANS_STMT_ROLLBACK': {
        if (this.state === 'idle') {
          if (ts.chain) throw sqlError(S.NO_ACTIVE_SQL_TXN, 'ROLLBACK AND CHAIN can only be used in transaction blocks');
          ctx.notice({ severity: 'WARNING', code: '25P01', message: 'there is no transaction in progress' });
          return tag('ROLLBACK');
        }
        const readOnly = this.txnReadOnly;
        this.txn?.rollback();
        this.endBlock();
        this.reportSettings(this.settings.rollbackTransaction(), ctx);
        this.cursors.rollback(this.blockGeneration);
        if (ts.chain) this.beginBlock(readOnly);
        return tag('ROLLBACK');
      }
      case 'TRANS_STMT_SAVEPOINT': {
        if (this.state === 'idle' || !this.txn) throw sqlError(S.NO_ACTIVE_SQL_TXN, 'SAVEPOINT can only be used in transaction blocks');
        this.savepoints.push({ name: ts.savepoint_name ?? '', snapshot: this.txn.savepoint(), settings: this.settings.savepoint(), failed: false });
        return tag('SAVEPOINT');
      }
      case 'TRANS_STMT_RELEASE': {
        if (this.state === 'idle') throw sqlError(S.NO_ACTIVE_SQL_TXN, 'RELEASE SAVEPOINT can only be used in transaction blocks');
        const i = this.findSavepoint(ts.savepoint_name ?? '');
        this.savepoints.length = i;
        return tag('RELEASE');
      }
      case 'TRANS_STMT_ROLLBACK_TO': {
        if (this.state === 'idle' || !this.txn) throw sqlError(S.NO_ACTIVE_SQL_TXN, 'ROLLBACK TO SAVEPOINT can only be used in transaction blocks');
        const i = this.findSavepoint(ts.savepoint_name ?? '');
        this.txn.rollbackTo(this.savepoints[i].snapshot);
        this.reportSettings(this.settings.rollbackTo(this.savepoints[i].settings), ctx);
        this.savepoints.length = i + 1;
        this.state = 'block';
        if (this.txnCatalogDirty) this.txnCatalog = await this.engine.reloadCatalog(this.txn);
        return tag('ROLLBACK');
      }
      case 'TRANS_STMT_PREPARE':
      case 'TRANS_STMT_COMMIT_PREPARED':
      case 'TRANS_STMT_ROLLBACK_PREPARED':
        throw sqlError(S.FEATURE_NOT_SUPPORTED, 'prepared transactions (two-phase commit) are not supported');
      default:
        throw sqlError(S.FEATURE_NOT_SUPPORTED, `${kind} is not supported`);
    }
  }

  private findSavepoint(name: string): number {
    for (let i = this.savepoints.length - 1; i >= 0; i--) if (this.savepoints[i].name === name) return i;
    throw sqlError(S.SAVEPOINT_EXCEPTION, `savepoint "${name}" does not exist`);
  }

  /** BEGIN / START TRANSACTION (and the new transaction of COMMIT/ROLLBACK AND CHAIN). */
  private beginBlock(readOnly: boolean): void {
    this.blockGeneration++;
    this.txn = this.engine.newTxn();
    this.txnStartUs = nowMicros();
    this.state = 'block';
    this.savepoints = [];
    this.txnCatalog = undefined;
    this.txnCatalogDirty = false;
    this.txnReadOnly = readOnly;
    this.settings.beginTransaction();
  }

  private endBlock(): void {
    this.state = 'idle';
    this.txn = undefined;
    this.txnCatalog = undefined;
    this.txnCatalogDirty = false;
    this.savepoints = [];
  }

  private checkIsolation(options: readonly Node[]): void {
    for (const o of options) {
      if (!('DefElem' in o)) continue;
      const d = o.DefElem;
      if (d.defname === 'transaction_isolation') {
        const level = stringOf(((d.arg as { A_Const?: { sval?: { sval?: string } } }) ? { String: { sval: (d.arg as { A_Const: { sval: { sval: string } } }).A_Const?.sval?.sval } } : undefined));
        // Every level runs as SERIALIZABLE (stronger than asked, which the standard allows).
        void level;
      }
    }
  }

  /** Result columns of a session statement for Describe (SHOW, EXECUTE of a row-returning statement). */
  private sessionStatementColumns(node: Node, ctx: QueryContext): SqlPrepared['columns'] {
    if ('VariableShowStmt' in node) {
      const name = (node.VariableShowStmt.name ?? '').toLowerCase();
      if (name.startsWith(SHOW_RANGES_PREFIX)) return [...SHOW_RANGES_COLUMNS];
      if (name.startsWith(RELOCATE_LEASE_PREFIX)) return null;
      if (name === 'all') return [{ name: 'name', typeOid: 25 }, { name: 'setting', typeOid: 25 }, { name: 'description', typeOid: 25 }];
      const key = name === 'time zone' ? 'timezone' : name === 'transaction isolation level' ? 'transaction_isolation' : name;
      return [{ name: canonicalSettingName(key), typeOid: 25 }];
    }
    if ('ExecuteStmt' in node) {
      const p = this.sqlPrepared.get(node.ExecuteStmt.name ?? '');
      return p?.compiled?.columns ? columnInfos(p.compiled.columns) : null;
    }
    if ('FetchStmt' in node && !node.FetchStmt.ismove) {
      const name = node.FetchStmt.portalname ?? '';
      if (this.cursors.has(name)) return [...this.cursors.get(name).columns];
      return ctx.portal?.(name)?.columns ?? null;
    }
    return null;
  }

  // -------------------------------------------------------------------------------------------
  // session statements: SET/SHOW/RESET, PREPARE/EXECUTE/DEALLOCATE, DISCARD, LISTEN...

  private async sessionStatement(node: Node, stmt: ParsedStatement, params: readonly PgValue[], ctx: QueryContext): Promise<StatementResult | undefined> {
    const cmdTag = (s: string): StatementResult => ({ kind: 'command', commandTag: s });
    if ('VariableSetStmt' in node) {
      const v = node.VariableSetStmt;
      const name = (v.name ?? '').toLowerCase();
      if (v.kind === 'VAR_SET_MULTI') {
        const ro = readOnlyOption(v.args ?? []);
        if (name === 'transaction') {
          if (ro !== undefined && this.state !== 'idle') this.txnReadOnly = ro;
          return cmdTag('SET');
        }
        if (name === 'session characteristics') {
          if (ro !== undefined) this.settings.set('default_transaction_read_only', ro ? 'on' : 'off');
          return cmdTag('SET');
        }
        throw sqlError(S.FEATURE_NOT_SUPPORTED, `SET ${name} is not supported`);
      }
      if (v.kind === 'VAR_RESET_ALL') {
        for (const [k] of this.settings.all()) {
          const r = this.settings.reset(k);
          if (r.report) ctx.setParameter(r.name, r.value);
        }
        return cmdTag('RESET');
      }
      // SET LOCAL outside a transaction block: Postgres validates it, warns, and it has no effect
      // (its implicit transaction ends with the statement).
      const local = v.is_local === true;
      const key = name === 'time zone' ? 'timezone' : name;
      if (local && this.state === 'idle') {
        if (v.kind === 'VAR_SET_VALUE') this.settings.check(key, (v.args ?? []).map(argText).join(', '));
        ctx.notice({ severity: 'WARNING', code: '25P01', message: 'SET LOCAL can only be used in transaction blocks' });
        return cmdTag('SET');
      }
      if (v.kind === 'VAR_RESET' || v.kind === 'VAR_SET_DEFAULT') {
        const r = this.settings.reset(key, local);
        if (r.report) ctx.setParameter(r.name, r.value);
        return cmdTag(v.kind === 'VAR_RESET' ? 'RESET' : 'SET');
      }
      if (name === 'transaction_isolation' || name === 'transaction_read_only' || name === 'transaction_deferrable') return cmdTag('SET');
      const value = (v.args ?? []).map(argText).join(', ');
      const r = this.settings.set(key, value, local);
      if (r.report) ctx.setParameter(r.name, r.value);
      return cmdTag('SET');
    }
    if ('VariableShowStmt' in node) {
      const name = (node.VariableShowStmt.name ?? '').toLowerCase();
      if (name.startsWith(RELOCATE_LEASE_PREFIX)) return relocateLease(this.engine.kv, name);
      if (name.startsWith(SHOW_RANGES_PREFIX)) {
        const parts = (node.VariableShowStmt.name ?? '').slice(SHOW_RANGES_PREFIX.length).split('.');
        const rel = await this.withReadTxn((exec) => resolveRelation(exec.catalog, this.sessionInfo(exec.catalog), parts.length > 1 ? parts[0] : undefined, parts[parts.length - 1]), ctx);
        if (!rel || !('kind' in rel) || rel.kind !== 'table') throw sqlError(S.UNDEFINED_TABLE, `relation "${parts.join('.')}" does not exist or is not a table`);
        return showRanges(this.engine.kv, rel);
      }
      if (name === 'all') {
        return { kind: 'rows', columns: [{ name: 'name', typeOid: 25 }, { name: 'setting', typeOid: 25 }, { name: 'description', typeOid: 25 }], rows: this.settings.all().map(([k, v]) => [k, v, '']) };
      }
      const key = name === 'time zone' ? 'timezone' : name === 'transaction isolation level' ? 'transaction_isolation' : name;
      // transaction_read_only is the open transaction's (BEGIN READ ONLY, SET TRANSACTION).
      const value = key === 'transaction_read_only' && this.state !== 'idle' ? (this.txnReadOnly ? 'on' : 'off') : this.settings.get(key);
      if (value === undefined) throw sqlError(S.UNDEFINED_OBJECT, `unrecognized configuration parameter "${name}"`);
      return { kind: 'rows', columns: [{ name: canonicalSettingName(key), typeOid: 25 }], rows: [[value]], commandTag: 'SHOW' };
    }
    if ('PrepareStmt' in node) {
      const p = node.PrepareStmt;
      const name = p.name ?? '';
      if (this.sqlPrepared.has(name)) throw sqlError(S.DUPLICATE_PREPARED, `prepared statement "${name}" already exists`);
      const inner = p.query as Node;
      const loc = (inner as Record<string, { location?: number }>)[Object.keys(inner)[0]];
      void loc;
      const text = innerText(stmt.text);
      const declared = (p.argtypes ?? []).map((a) => typeFromTypeName((a as { TypeName: import('libpg-query').TypeName }).TypeName));
      const parsed: ParsedStatement = { node: inner, text, offset: 0 };
      const compiled = await this.withReadTxn(async (exec) => this.compile(parsed, declared, exec.env, exec.catalog), ctx);
      this.sqlPrepared.set(name, { parsed, declared, compiled: compiled.c, catalogVersion: compiled.version, paramTypes: [], columns: null });
      return cmdTag('PREPARE');
    }
    if ('ExecuteStmt' in node) {
      const e = node.ExecuteStmt;
      const p = this.sqlPrepared.get(e.name ?? '');
      if (!p || !p.parsed) throw sqlError(S.INVALID_PREPARED_NAME, `prepared statement "${e.name}" does not exist`);
      // Parameters are expressions; evaluate them as a SELECT of constants.
      const exprs = e.params ?? [];
      let values: PgValue[] = [];
      if (exprs.length) {
        const sel: ParsedStatement = { node: { SelectStmt: { targetList: exprs.map((x) => ({ ResTarget: { val: x } })) } }, text: `\u0000execute-params\u0000${stmt.text}`, offset: 0 };
        const r = await this.runData(sel, params, undefined, ctx);
        values = r.kind === 'rows' && r.rows ? [...r.rows[0]] : [];
      }
      return this.runData(p.parsed, values, p, ctx);
    }
    if ('DeallocateStmt' in node) {
      const name = node.DeallocateStmt.name;
      if (name === undefined || node.DeallocateStmt.isall) this.sqlPrepared.clear();
      else if (!this.sqlPrepared.delete(name)) throw sqlError(S.INVALID_PREPARED_NAME, `prepared statement "${name}" does not exist`);
      return cmdTag(name === undefined ? 'DEALLOCATE ALL' : 'DEALLOCATE');
    }
    if ('DiscardStmt' in node) {
      // As Postgres: PLANS only drops cached plans (prepared statements stay), SEQUENCES forgets
      // currval state, ALL (pgbouncer's server_reset_query) is all of that plus DEALLOCATE ALL and
      // RESET ALL, and is refused inside a transaction block.
      const target = node.DiscardStmt.target;
      if (target === 'DISCARD_ALL') {
        if (this.state !== 'idle') throw sqlError(S.ACTIVE_SQL_TXN, 'DISCARD ALL cannot run inside a transaction block');
        this.sqlPrepared.clear();
        this.cursors.closeAll();
        this.engine.advisoryLocks.releaseAll(this.id.pid, 'session');
        for (const [k] of this.settings.all()) {
          const r = this.settings.reset(k);
          if (r.report) ctx.setParameter(r.name, r.value);
        }
      }
      if (target === 'DISCARD_ALL' || target === 'DISCARD_SEQUENCES') this.currvals.clear();
      return cmdTag(`DISCARD ${target === 'DISCARD_ALL' ? 'ALL' : target === 'DISCARD_PLANS' ? 'PLANS' : target === 'DISCARD_SEQUENCES' ? 'SEQUENCES' : 'TEMP'}`);
    }
    if ('ListenStmt' in node) return cmdTag('LISTEN');
    if ('UnlistenStmt' in node) return cmdTag('UNLISTEN');
    if ('DeclareCursorStmt' in node) return this.declareCursor(node.DeclareCursorStmt, stmt, params, ctx);
    if ('FetchStmt' in node) {
      const f = node.FetchStmt;
      const name = f.portalname ?? '';
      // The parser omits a zero count (FETCH RELATIVE 0).
      const direction = f.direction ?? 'FETCH_FORWARD';
      const howMany = Number(f.howMany ?? 0);
      // Not a DECLAREd cursor: a protocol-level portal of the same name (one namespace in PostgreSQL).
      const portal = this.cursors.has(name) ? undefined : ctx.portal?.(name);
      if (portal) {
        const rows = await fetchFromPortal(portal, direction, howMany, f.ismove === true);
        if (f.ismove) return cmdTag(`MOVE ${rows.length}`);
        return { kind: 'rows', columns: portal.columns ?? [], rows, commandTag: `FETCH ${rows.length}` };
      }
      const cursor = this.cursors.get(name);
      const rows = await cursor.fetch(direction, howMany);
      if (f.ismove) return cmdTag(`MOVE ${rows.length}`);
      return { kind: 'rows', columns: cursor.columns, rows, commandTag: `FETCH ${rows.length}` };
    }
    if ('ClosePortalStmt' in node) {
      const cursor = node.ClosePortalStmt.portalname;
      if (cursor === undefined) {
        this.cursors.closeAll();
        return cmdTag('CLOSE CURSOR ALL');
      }
      this.cursors.close(cursor);
      return cmdTag('CLOSE CURSOR');
    }
    if ('NotifyStmt' in node) return cmdTag('NOTIFY');
    return undefined;
  }

  /** DECLARE name [BINARY] [SCROLL] CURSOR [WITH HOLD] FOR query: runs the query, keeps its rows' stream. */
  private async declareCursor(d: import('libpg-query').DeclareCursorStmt, stmt: ParsedStatement, params: readonly PgValue[], ctx: QueryContext): Promise<StatementResult> {
    const name = d.portalname ?? '';
    const options = d.options ?? 0;
    const hold = (options & CURSOR_OPT.hold) !== 0;
    if (!hold && this.state === 'idle') throw sqlError(S.NO_ACTIVE_SQL_TXN, 'DECLARE CURSOR can only be used in transaction blocks');
    if (this.cursors.has(name)) throw sqlError(S.DUPLICATE_CURSOR, `cursor "${name}" already exists`);
    const query = d.query as Node;
    if (!('SelectStmt' in query)) throw sqlError(S.INVALID_CURSOR_DEFINITION, 'cannot open a statement other than SELECT or VALUES as a cursor');
    if ((query.SelectStmt.lockingClause ?? []).length > 0 && hold) {
      throw sqlError(S.FEATURE_NOT_SUPPORTED, 'DECLARE CURSOR WITH HOLD ... FOR UPDATE/SHARE is not supported', { detail: 'Holdable cursors must be READ ONLY.' });
    }
    const text = declaredQueryText(stmt.text);
    const r = await this.runData({ node: query, text, offset: 0 }, params, undefined, ctx);
    if (r.kind !== 'rows') throw sqlError(S.INVALID_CURSOR_DEFINITION, 'cursor query does not return rows');
    const cursor = new SqlCursor(name, stmt.text, r.columns, r.rows, r.batches, hold, (options & CURSOR_OPT.binary) !== 0, (options & CURSOR_OPT.scroll) !== 0, nowMicros(), this.state === 'idle' ? -1 : this.blockGeneration);
    this.cursors.add(cursor);
    // Outside a block (WITH HOLD only) the implicit transaction already ended: keep the rows.
    if (this.state === 'idle') await cursor.materialize();
    return { kind: 'command', commandTag: 'DECLARE CURSOR' };
  }
}

/** The query of `DECLARE ... CURSOR [WITH[OUT] HOLD] FOR query`. */
function declaredQueryText(text: string): string {
  const m = /\bCURSOR\s+(?:WITH(?:OUT)?\s+HOLD\s+)?FOR\b([\s\S]*)$/i.exec(text);
  return m ? m[1].trim() : text;
}

/** Splits a possibly qualified, possibly quoted name: `"a"."b.c"` -> ['a', 'b.c']; unquoted parts fold to lower case. */
export function splitQualified(name: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= name.length) {
    if (name[i] === '"') {
      let part = '';
      i++;
      while (i < name.length) {
        if (name[i] === '"' && name[i + 1] === '"') {
          part += '"';
          i += 2;
        } else if (name[i] === '"') {
          i++;
          break;
        } else part += name[i++];
      }
      out.push(part);
    } else {
      const j = name.indexOf('.', i);
      out.push(name.slice(i, j < 0 ? name.length : j).trim().toLowerCase());
      i = j < 0 ? name.length : j;
    }
    if (name[i] === '.') i++;
    else break;
  }
  return out;
}


/** READ ONLY / READ WRITE among BEGIN or SET TRANSACTION options (undefined when absent). */
function readOnlyOption(options: readonly Node[]): boolean | undefined {
  for (const o of options) {
    if ('DefElem' in o && o.DefElem.defname === 'transaction_read_only') {
      const a = o.DefElem.arg;
      if (a && 'A_Const' in a) return (a.A_Const.ival?.ival ?? 0) === 1 || a.A_Const.boolval?.boolval === true;
      return true;
    }
  }
  return undefined;
}

function isSessionStatement(node: Node): boolean {
  return ['TransactionStmt', 'VariableSetStmt', 'VariableShowStmt', 'PrepareStmt', 'ExecuteStmt', 'DeallocateStmt', 'DiscardStmt', 'ListenStmt', 'UnlistenStmt', 'NotifyStmt', 'ClosePortalStmt', 'DeclareCursorStmt', 'FetchStmt'].some((k) => k in node);
}

/** The statement text after `PREPARE name [(types)] AS`. */
function innerText(text: string): string {
  const m = /\bAS\b([\s\S]*)$/i.exec(text);
  return m ? m[1].trim() : text;
}

function argText(n: Node): string {
  if ('A_Const' in n) {
    const c = n.A_Const;
    if (c.sval) return c.sval.sval ?? '';
    if (c.ival) return String(c.ival.ival ?? 0);
    if (c.fval) return c.fval.fval ?? '';
    if (c.boolval) return c.boolval.boolval ? 'on' : 'off';
    return '';
  }
  if ('TypeCast' in n) return argText(n.TypeCast.arg as Node);
  return stringOf(n);
}

const typeOidOf = (type: SqlType): number => typeOid(type);

function withPosition(e: unknown, stmt: ParsedStatement): unknown {
  if (e instanceof PgError && e.fields.position !== undefined && stmt.offset > 0) {
    return new PgError(e.code, e.message, { ...e.fields, position: e.fields.position + stmt.offset }, e.severity);
  }
  return e;
}

/** Name resolution: pg_catalog first (implicitly), then search_path. */
export function resolveRelation(catalog: Catalog, session: SessionInfo, schema: string | undefined, name: string): Relation | SystemView | undefined {
  if (schema) {
    if (schema === 'pg_catalog' || schema === 'information_schema') return systemView(schema, name);
    const s = catalog.schema(session.databaseId, schema);
    return s ? catalog.relation(s.id, name) : undefined;
  }
  const sys = systemView('pg_catalog', name);
  if (sys) return sys;
  for (const sp of session.searchPath) {
    if (sp === 'pg_catalog' || sp === 'information_schema') {
      const v = systemView(sp, name);
      if (v) return v;
      continue;
    }
    const s = catalog.schema(session.databaseId, sp);
    const rel = s ? catalog.relation(s.id, name) : undefined;
    if (rel) return rel;
  }
  return undefined;
}

export { PG_CATALOG_ID, INFORMATION_SCHEMA_ID };

/** Statements the session itself handles, which a DO block does not run (named for the 0A000). */
const SESSION_STATEMENTS: Readonly<Record<string, string>> = {
  TransactionStmt: 'transaction control', VariableSetStmt: 'SET', VariableShowStmt: 'SHOW', PrepareStmt: 'PREPARE', ExecuteStmt: 'EXECUTE of a prepared statement',
  DeallocateStmt: 'DEALLOCATE', DeclareCursorStmt: 'DECLARE CURSOR', FetchStmt: 'FETCH', ClosePortalStmt: 'CLOSE', DiscardStmt: 'DISCARD', DoStmt: 'a nested DO',
  ListenStmt: 'LISTEN', NotifyStmt: 'NOTIFY', UnlistenStmt: 'UNLISTEN', CopyStmt: 'COPY', CreatedbStmt: 'CREATE DATABASE', DropdbStmt: 'DROP DATABASE',
};

/** The body of a DO statement; only LANGUAGE plpgsql runs. */
function doBlockBody(d: DoStmt): string {
  let body: string | undefined;
  let language = 'plpgsql';
  for (const a of d.args ?? []) {
    if (!('DefElem' in a)) continue;
    const value = a.DefElem.arg && 'String' in a.DefElem.arg ? (a.DefElem.arg.String.sval ?? '') : '';
    if (a.DefElem.defname === 'as') body = value;
    else if (a.DefElem.defname === 'language') language = value;
  }
  if (language !== 'plpgsql') {
    // PostgreSQL's built-in languages other than plpgsql have no inline handler; any other
    // language is not installed, which PostgreSQL reports as 42704.
    if (['sql', 'c', 'internal'].includes(language)) throw sqlError(S.FEATURE_NOT_SUPPORTED, `language "${language}" does not support inline code execution`);
    throw sqlError(S.UNDEFINED_OBJECT, `language "${language}" does not exist`, { hint: 'Weft runs DO blocks in plpgsql only.' });
  }
  if (body === undefined) throw sqlError(S.SYNTAX_ERROR, 'no inline code specified');
  return body;
}

/** Same column count, names and types: what a client was told in RowDescription still holds. */
function sameShape(a: readonly { name: string; typeOid: number }[], b: readonly { name: string; typeOid: number }[]): boolean {
  return a.length === b.length && a.every((c, i) => c.name === b[i].name && c.typeOid === b[i].typeOid);
}

/** The row count a command tag reports ("INSERT 0 5", "UPDATE 3"); 0 when it has none. */
function rowCountOf(r: StatementResult): number {
  const m = r.kind === 'command' ? / (\d+)$/.exec(r.commandTag) : null;
  return m === null ? 0 : Number(m[1]);
}

/** A result's rows, whether sent at once or in batches. */
async function allRows(rows: readonly Row[] | undefined, batches: RowBatches | undefined): Promise<Row[]> {
  const out: Row[] = [...(rows ?? [])];
  if (batches !== undefined) for await (const b of batches) out.push(...b);
  return out;
}
