/**
 * One client connection: startup, authentication, then the simple/extended query protocol
 * state machine. Input is pulled (the state machine asks for the next packet) so startup
 * framing, COPY sub-protocols and "skip until Sync" are plain control flow. Output is
 * buffered and leaves in one write at ReadyForQuery, Flush, COPY boundaries, or when large.
 *
 * Nothing thrown in here may escape: every path ends in run()'s catch, which answers with an
 * ErrorResponse where possible and closes only this socket.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import * as be from './backend';
import type { FieldDescription, FormatCode, TransactionStatus } from './backend';
import { BufferWriter } from './buffer-writer';
import { type Authenticator, type Credential, verifyCleartext, verifyMd5Response } from './auth';
import { canonicalEncodingName, SUPPORTED_CLIENT_ENCODINGS } from './encoding';
import { queryCanceled, PgError, type PgNotice, ProtocolViolation, SqlState, toPgError } from './errors';
import { BodyReader, decodeFrontend, decodeStartup, type FrontendMessage, PROTOCOL_3_0 } from './frontend';
import { writeDataRow, rowEncoder } from './encode-row';
import { MessageReader, type Packet, type ReaderLimits } from './reader';
import { RowCursor } from './row-cursor';
import { ScramServer } from './scram';
import type {
  ColumnInfo,
  CopyInResult,
  CopyOutResult,
  PortalRows,
  PreparedStatement,
  QueryContext,
  Row,
  SessionFactory,
  SessionHandler,
  StatementResult,
} from './session';
import { decodeParam, hasBinaryCodec, type PgValue, typeSize } from './types';

/** Output is pushed to the socket once this much is buffered (and we wait for drain). */
const OUTPUT_HIGH_WATER = 256 * 1024;
/** Input is paused while the state machine is busy and this much is unread. */
const INPUT_HIGH_WATER = 1024 * 1024;

export interface CancelTarget {
  readonly pid: number;
  readonly secret: number;
  cancel(): void;
}

export interface CancelRegistry {
  register(target: CancelTarget): void;
  unregister(target: CancelTarget): void;
  cancel(pid: number, secret: number): void;
}

export interface ConnectionOptions<S extends PreparedStatement> {
  authenticator: Authenticator;
  sessionFactory: SessionFactory<S>;
  /** Server-wide ParameterStatus defaults (the session factory may override). */
  parameters: Record<string, string>;
  limits: ReaderLimits;
  authTimeoutMs: number;
  pid: number;
  secret: number;
  registry: CancelRegistry;
  onInternalError?: (err: unknown) => void;
}

interface StatementEntry<S> {
  name: string;
  stmt: S;
}

interface Portal<S> {
  name: string;
  statement: StatementEntry<S>;
  params: readonly PgValue[];
  resultFormats: readonly FormatCode[];
  state: 'new' | 'rows' | 'done';
  cursor: RowCursor | null;
  encoderColumns: readonly ColumnInfo[];
  tag: string | ((n: number) => string) | undefined;
}


class ConnectionClosed extends Error {}

function expandFormats(formats: readonly FormatCode[], n: number): FormatCode[] {
  if (formats.length === 0) return new Array<FormatCode>(n).fill(0);
  if (formats.length === 1) return new Array<FormatCode>(n).fill(formats[0]);
  return Array.from({ length: n }, (_, i) => formats[i] ?? 0);
}

function rowTag(tag: string | ((n: number) => string) | undefined, n: number): string {
  if (typeof tag === 'function') return tag(n);
  return tag ?? `SELECT ${n}`;
}

export class PgConnection<S extends PreparedStatement> implements CancelTarget {
  readonly pid: number;
  readonly secret: number;
  private readonly reader: MessageReader;
  private readonly out = new BufferWriter();
  private closed = false;
  private waiter: (() => void) | null = null;
  private paused = false;
  private handler: SessionHandler<S> | null = null;
  private current: AbortController | null = null;
  private readonly statements = new Map<string, StatementEntry<S>>();
  private readonly portals = new Map<string, Portal<S>>();
  private skipUntilSync = false;
  private readonly params = new Map<string, string>();

  constructor(private readonly socket: Socket, private readonly opts: ConnectionOptions<S>) {
    this.pid = opts.pid;
    this.secret = opts.secret;
    this.reader = new MessageReader(opts.limits);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.onClose());
    socket.on('close', () => this.onClose());
    socket.on('end', () => this.onClose());
  }

  /** Runs the connection to completion. Never rejects. */
  async run(): Promise<void> {
    const timer = setTimeout(() => this.socket.destroy(), this.opts.authTimeoutMs);
    timer.unref();
    let registered = false;
    try {
      const ok = await this.startup(() => clearTimeout(timer));
      if (!ok) return;
      this.opts.registry.register(this);
      registered = true;
      await this.queryLoop();
    } catch (e) {
      if (!(e instanceof ConnectionClosed)) this.fatal(e);
    } finally {
      clearTimeout(timer);
      if (registered) this.opts.registry.unregister(this);
      await this.cleanup();
    }
  }

  /** CancelRequest for this session: abort whatever runs now (ignored when idle, as in Postgres). */
  cancel(): void {
    this.current?.abort();
  }

  /** Server shutdown: tell the client why, then close. */
  terminate(err: PgError): void {
    if (this.closed) return;
    be.errorResponse(this.out, err);
    this.flush();
    this.socket.end();
    this.onClose();
  }

  // ---------------------------------------------------------------------------------------------
  // input

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.reader.feed(chunk);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w();
    } else if (!this.paused && this.reader.buffered > INPUT_HIGH_WATER) {
      // The state machine is busy (a long query); stop reading until it asks for more.
      this.paused = true;
      this.socket.pause();
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    // A client that hangs up mid-query should not leave the engine working for nobody.
    this.current?.abort();
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** The next complete packet; throws ConnectionClosed at EOF, ProtocolViolation on bad framing. */
  private async nextPacket(): Promise<Packet> {
    for (;;) {
      if (this.closed) throw new ConnectionClosed();
      const p = this.reader.next();
      if (p) return p;
      if (this.paused) {
        this.paused = false;
        this.socket.resume();
      }
      // Anything buffered for the client must go out before we block on it.
      this.flush();
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private async nextMessage(): Promise<FrontendMessage> {
    return decodeFrontend(await this.nextPacket());
  }

  // ---------------------------------------------------------------------------------------------
  // output

  private flush(): void {
    if (this.out.length === 0) return;
    const data = this.out.flush();
    if (!this.closed && this.socket.writable) this.socket.write(data);
  }

  /** Flush and wait for the socket to drain, so a huge result can't balloon memory. */
  private async flushAndDrain(): Promise<void> {
    this.flush();
    if (this.closed) throw new ConnectionClosed();
    if (!this.socket.writableNeedDrain) return;
    // A cancel must get through even while a slow client blocks the output.
    const signal = this.current?.signal;
    if (signal?.aborted) throw queryCanceled();
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
      signal?.addEventListener('abort', done);
    });
    if (this.closed) throw new ConnectionClosed();
    if (signal?.aborted) throw queryCanceled();
  }

  private async maybeDrain(): Promise<void> {
    if (this.out.length >= OUTPUT_HIGH_WATER) await this.flushAndDrain();
  }

  private fatal(e: unknown): void {
    const err = e instanceof PgError ? e : toPgError(e);
    if (!(e instanceof PgError)) this.opts.onInternalError?.(e);
    if (this.closed) return;
    be.errorResponse(this.out, err.severity === 'ERROR' ? err.fatal() : err);
    this.flush();
    this.socket.end();
    // Don't wait forever for a client that never reads: hard-close shortly after.
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.onClose();
  }

  private async cleanup(): Promise<void> {
    this.closed = true;
    for (const p of this.portals.values()) p.cursor?.close();
    this.portals.clear();
    const h = this.handler;
    this.handler = null;
    if (h) {
      for (const s of this.statements.values()) this.safely(() => h.closeStatement?.(s.stmt));
      this.statements.clear();
      try {
        await h.close?.();
      } catch (e) {
        this.opts.onInternalError?.(e);
      }
    }
    if (!this.socket.destroyed) this.socket.end();
  }

  private safely(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.opts.onInternalError?.(e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // startup and authentication

  private async startup(authenticated: () => void): Promise<boolean> {
    let sawSsl = false;
    let sawGss = false;
    for (;;) {
      const s = decodeStartup((await this.nextPacket()).body);
      if (s.kind === 'ssl' || s.kind === 'gssenc') {
        // TLS/GSS encryption are not offered (yet); a second request is a client bug.
        if ((s.kind === 'ssl' && sawSsl) || (s.kind === 'gssenc' && sawGss)) {
          throw new ProtocolViolation(`duplicate ${s.kind === 'ssl' ? 'SSL' : 'GSSENC'} request`);
        }
        if (s.kind === 'ssl') sawSsl = true;
        else sawGss = true;
        be.encryptionRefused(this.out);
        this.flush();
        continue;
      }
      if (s.kind === 'cancel') {
        this.opts.registry.cancel(s.pid, s.secret);
        this.socket.end();
        return false;
      }
      if (s.major !== 3) {
        throw new PgError(
          SqlState.FEATURE_NOT_SUPPORTED,
          `unsupported frontend protocol ${s.major}.${s.minor}: server supports 3.0 to 3.0`,
          {},
          'FATAL',
        );
      }
      const unknownOptions = [...s.params.keys()].filter((k) => k.startsWith('_pq_.'));
      if (s.minor > 0 || unknownOptions.length > 0) {
        be.negotiateProtocolVersion(this.out, PROTOCOL_3_0 & 0xffff, unknownOptions);
      }
      this.reader.startupPhase = false;
      const user = s.params.get('user');
      if (!user) {
        throw new PgError(SqlState.INVALID_AUTHORIZATION_SPECIFICATION, 'no PostgreSQL user name specified in startup packet', {}, 'FATAL');
      }
      const database = s.params.get('database') || user;
      const encoding = s.params.get('client_encoding');
      let clientEncoding = 'UTF8';
      if (encoding !== undefined && encoding.toLowerCase() !== 'auto') {
        // Names are normalized as PostgreSQL does ('utf-8' with its quotes, as asyncpg sends it, is UTF8).
        const e = canonicalEncodingName(encoding);
        if (!e) throw new PgError(SqlState.INVALID_PARAMETER_VALUE, `invalid value for parameter "client_encoding": "${encoding}"`, {}, 'FATAL');
        if (!SUPPORTED_CLIENT_ENCODINGS.has(e)) {
          throw new PgError(SqlState.FEATURE_NOT_SUPPORTED, `conversion between ${e} and UTF8 is not supported`, {
            hint: 'Weft supports only the UTF8 (and SQL_ASCII) client encodings.',
          }, 'FATAL');
        }
        clientEncoding = e;
      }

      const remoteAddress = this.socket.remoteAddress ?? '';
      const cred = await this.opts.authenticator.lookup({ user, database, remoteAddress });
      await this.authenticate(user, cred);
      authenticated();
      const applicationName = s.params.get('application_name') ?? '';
      const { handler, parameters } = await this.opts.sessionFactory({
        user,
        database,
        applicationName,
        params: s.params,
        remoteAddress,
        pid: this.pid,
      });
      this.handler = handler;
      const all: Record<string, string> = {
        ...this.opts.parameters,
        client_encoding: clientEncoding,
        application_name: applicationName,
        session_authorization: user,
        is_superuser: cred?.superuser ? 'on' : 'off',
        ...parameters,
      };
      be.authenticationOk(this.out);
      for (const [k, v] of Object.entries(all)) {
        this.params.set(k, v);
        be.parameterStatus(this.out, k, v);
      }
      be.backendKeyData(this.out, this.pid, this.secret);
      be.readyForQuery(this.out, handler.transactionStatus());
      this.flush();
      return true;
    }
  }

  private authFailed(user: string): PgError {
    return new PgError(SqlState.INVALID_PASSWORD, `password authentication failed for user "${user}"`, {}, 'FATAL');
  }

  /** The next 'p' message during authentication; EOF (psql asking for a password) closes quietly. */
  private async authResponse(): Promise<Buffer> {
    const p = await this.nextPacket();
    if (p.type === 0x58 /* X */) throw new ConnectionClosed();
    if (p.type !== 0x70 /* p */) {
      throw new ProtocolViolation(`expected password response, got message type ${p.type}`);
    }
    return p.body;
  }

  private async authenticate(user: string, cred: Credential | null): Promise<void> {
    if (cred?.method === 'trust') return;
    if (cred?.method === 'password') {
      be.authenticationCleartextPassword(this.out);
      this.flush();
      const r = new BodyReader(await this.authResponse(), 'password');
      const pw = r.cstring();
      if (!verifyCleartext(cred, pw)) throw this.authFailed(user);
      return;
    }
    if (cred?.method === 'md5') {
      const salt = randomBytes(4);
      be.authenticationMD5Password(this.out, salt);
      this.flush();
      const r = new BodyReader(await this.authResponse(), 'password');
      if (!verifyMd5Response(cred.md5, salt, r.cstring())) throw this.authFailed(user);
      return;
    }
    // SCRAM-SHA-256, or the always-failing mock exchange for unknown users.
    const scram = new ScramServer(cred?.method === 'scram-sha-256' ? cred.verifier : null);
    be.authenticationSASL(this.out, ['SCRAM-SHA-256']);
    this.flush();
    const init = new BodyReader(await this.authResponse(), 'SASLInitialResponse');
    const mechanism = init.cstring();
    if (mechanism !== 'SCRAM-SHA-256') {
      throw new ProtocolViolation('client selected an invalid SASL authentication mechanism');
    }
    const len = init.int32();
    if (len < 0) throw new ProtocolViolation('malformed SCRAM message: missing client-first-message');
    const first = init.bytes(len).toString('utf8');
    init.done();
    be.authenticationSASLContinue(this.out, scram.clientFirst(first));
    this.flush();
    const final = scram.clientFinal((await this.authResponse()).toString('utf8'));
    if (final === null) throw this.authFailed(user);
    be.authenticationSASLFinal(this.out, final);
  }

  // ---------------------------------------------------------------------------------------------
  // query phase

  private get h(): SessionHandler<S> {
    if (!this.handler) throw new ConnectionClosed();
    return this.handler;
  }

  private makeContext(): QueryContext {
    const ac = new AbortController();
    this.current = ac;
    const ctx: QueryContext = {
      signal: ac.signal,
      notice: (n: PgNotice) => be.noticeResponse(this.out, n),
      setParameter: (name: string, value: string) => {
        this.params.set(name, value);
        be.parameterStatus(this.out, name, value);
      },
      portal: (name: string) => (name === '' ? undefined : this.portalRows(name, ctx)),
    };
    return ctx;
  }

  /** A named portal as SQL FETCH/MOVE reach it (see QueryContext.portal). */
  private portalRows(name: string, ctx: QueryContext): PortalRows | undefined {
    const p = this.portals.get(name);
    if (!p) return undefined;
    return {
      get columns() {
        return p.state === 'new' ? p.statement.stmt.columns : p.encoderColumns;
      },
      get position() {
        return p.cursor?.count ?? 0;
      },
      read: async (n: number): Promise<readonly Row[]> => {
        if (p.state === 'new') {
          const r = await this.h.execute({ statement: p.statement.stmt, params: p.params, portal: p.name }, ctx);
          if (r.kind === 'copyIn' || r.kind === 'copyOut') {
            if (r.kind === 'copyIn') await r.abort('FETCH from a COPY portal');
            throw new PgError(SqlState.FEATURE_NOT_SUPPORTED, `cannot FETCH from portal "${name}": it runs COPY`);
          }
          if (r.kind === 'rows') {
            p.state = 'rows';
            p.cursor = new RowCursor(r.rows, r.batches);
            p.encoderColumns = r.columns;
            p.tag = r.commandTag;
          } else {
            p.state = 'done';
            p.tag = r.kind === 'command' ? r.commandTag : undefined;
          }
        }
        const cursor = p.cursor;
        if (p.state !== 'rows' || !cursor) return [];
        const out: Row[] = [];
        while (out.length < n) {
          if (ctx.signal.aborted) throw queryCanceled();
          const got = cursor.next(n === Infinity ? 0 : n - out.length);
          const rows = Array.isArray(got) ? (got as readonly Row[]) : await got;
          if (rows.length === 0) {
            if (cursor.finished) break;
            continue;
          }
          out.push(...rows);
        }
        return out;
      },
    };
  }

  private endContext(): void {
    this.current = null;
  }

  private status(): TransactionStatus {
    try {
      return this.h.transactionStatus();
    } catch (e) {
      this.opts.onInternalError?.(e);
      return 'I';
    }
  }

  private readyForQuery(): void {
    be.readyForQuery(this.out, this.status());
    this.flush();
  }

  /** Send a non-fatal error; fatal ones (and protocol violations) end the connection. */
  private reportError(e: unknown, ctx: QueryContext | null): void {
    if (e instanceof ConnectionClosed) throw e;
    const err = toPgError(e, ctx?.signal.aborted ?? false);
    if (err.severity !== 'ERROR') throw err;
    if (!(e instanceof PgError) && !(ctx?.signal.aborted ?? false)) this.opts.onInternalError?.(e);
    be.errorResponse(this.out, err);
  }

  private async queryLoop(): Promise<void> {
    for (;;) {
      const m = await this.nextMessage();
      if (this.skipUntilSync && m.type !== 'Sync' && m.type !== 'Terminate') continue;
      switch (m.type) {
        case 'Query':
          await this.simpleQuery(m.sql);
          break;
        case 'Parse':
        case 'Bind':
        case 'Describe':
        case 'Execute':
        case 'Close': {
          const ctx = this.makeContext();
          try {
            await this.extended(m, ctx);
          } catch (e) {
            this.reportError(e, ctx);
            this.skipUntilSync = true;
          } finally {
            this.endContext();
          }
          break;
        }
        case 'Flush':
          this.flush();
          break;
        case 'Sync':
          this.skipUntilSync = false;
          // Portals live only as long as their transaction; none survives once idle.
          if (this.status() === 'I') this.dropPortals();
          this.readyForQuery();
          break;
        case 'Terminate':
          return;
        case 'CopyData':
        case 'CopyDone':
        case 'CopyFail':
          // Leftovers of a COPY that already failed: dropped, as the protocol specifies.
          break;
        case 'FunctionCall':
          be.errorResponse(this.out, new PgError(SqlState.FEATURE_NOT_SUPPORTED, 'function call messages are not supported'));
          this.readyForQuery();
          break;
        case 'AuthResponse':
          throw new ProtocolViolation('unexpected password message after authentication');
      }
    }
  }

  private async simpleQuery(sql: string): Promise<void> {
    const ctx = this.makeContext();
    try {
      if (sql.trim() === '') {
        be.emptyQueryResponse(this.out);
      } else {
        const results = this.h.simpleQuery(sql, ctx);
        for await (const r of results) {
          await this.sendResult(r, ctx);
          // A cancel between statements of one string stops the rest, as in Postgres.
          if (ctx.signal.aborted) throw queryCanceled();
        }
      }
    } catch (e) {
      this.reportError(e, ctx);
    } finally {
      this.endContext();
    }
    this.readyForQuery();
  }

  /** Send one complete statement result of the simple protocol (with RowDescription). */
  private async sendResult(r: StatementResult, ctx: QueryContext): Promise<void> {
    switch (r.kind) {
      case 'rows': {
        const formats = new Array<FormatCode>(r.columns.length).fill(0);
        be.rowDescription(this.out, this.describeColumns(r.columns, formats));
        const cursor = new RowCursor(r.rows, r.batches);
        try {
          await this.streamRows(cursor, r.columns, formats, 0, ctx);
        } finally {
          cursor.close();
        }
        be.commandComplete(this.out, rowTag(r.commandTag, cursor.count));
        break;
      }
      case 'command':
        be.commandComplete(this.out, r.commandTag);
        break;
      case 'empty':
        be.emptyQueryResponse(this.out);
        break;
      case 'copyIn':
        await this.copyIn(r, ctx);
        break;
      case 'copyOut':
        await this.copyOut(r, ctx);
        break;
    }
    await this.maybeDrain();
  }

  private describeColumns(cols: readonly ColumnInfo[], formats: readonly FormatCode[]): FieldDescription[] {
    return cols.map((c, i) => ({
      name: c.name,
      tableOid: c.tableOid ?? 0,
      columnAttr: c.columnAttr ?? 0,
      typeOid: c.typeOid,
      typeSize: c.typeSize ?? typeSize(c.typeOid),
      typeModifier: c.typeModifier ?? -1,
      format: formats[i] ?? 0,
    }));
  }

  /**
   * Write DataRows until the cursor is finished or `maxRows` (0 = all) were sent.
   * Returns true when stopped by the limit (portal suspended).
   */
  private async streamRows(
    cursor: RowCursor,
    columns: readonly ColumnInfo[],
    formats: readonly FormatCode[],
    maxRows: number,
    ctx: QueryContext,
  ): Promise<boolean> {
    const enc = rowEncoder(
      columns.map((c) => c.codec ?? c.typeOid),
      formats,
    );
    let sent = 0;
    for (;;) {
      if (ctx.signal.aborted) throw queryCanceled();
      const want = maxRows > 0 ? maxRows - sent : 0;
      const got = cursor.next(want);
      const rows = Array.isArray(got) ? (got as readonly PgValue[][]) : await got;
      if (rows.length === 0) {
        if (cursor.finished) return false;
        continue;
      }
      for (const row of rows) writeDataRow(this.out, enc, row);
      sent += rows.length;
      await this.maybeDrain();
      if (maxRows > 0 && sent >= maxRows) return true;
    }
  }

  private async copyIn(r: CopyInResult, ctx: QueryContext): Promise<void> {
    be.copyInResponse(this.out, r.format, new Array<FormatCode>(r.columnCount).fill(r.format));
    this.flush();
    let finished = false;
    try {
      for (;;) {
        const m = await this.nextMessage();
        if (m.type === 'CopyData') {
          await r.write(m.data);
          if (ctx.signal.aborted) throw queryCanceled();
        } else if (m.type === 'CopyDone') {
          finished = true;
          be.commandComplete(this.out, await r.end());
          return;
        } else if (m.type === 'CopyFail') {
          throw new PgError(SqlState.QUERY_CANCELED, `COPY from stdin failed: ${m.message}`);
        } else if (m.type === 'Flush' || m.type === 'Sync') {
          // Ignored during COPY IN, per protocol (clients may send them with the data).
        } else if (m.type === 'Terminate') {
          throw new ConnectionClosed();
        } else {
          throw new PgError(SqlState.PROTOCOL_VIOLATION, `unexpected message type ${m.type} during COPY from stdin`);
        }
      }
    } catch (e) {
      if (!finished) {
        const reason = e instanceof Error ? e.message : String(e);
        try {
          await r.abort(reason);
        } catch (inner) {
          this.opts.onInternalError?.(inner);
        }
      }
      throw e;
    }
  }

  private async copyOut(r: CopyOutResult, ctx: QueryContext): Promise<void> {
    be.copyOutResponse(this.out, r.format, new Array<FormatCode>(r.columnCount).fill(r.format));
    if (Symbol.asyncIterator in r.data) {
      for await (const chunk of r.data) {
        if (ctx.signal.aborted) throw queryCanceled();
        be.copyData(this.out, chunk);
        await this.maybeDrain();
      }
    } else {
      for (const chunk of r.data) {
        be.copyData(this.out, chunk);
        if (this.out.length >= OUTPUT_HIGH_WATER) {
          if (ctx.signal.aborted) throw queryCanceled();
          await this.flushAndDrain();
        }
      }
    }
    be.copyDone(this.out);
    be.commandComplete(this.out, typeof r.commandTag === 'function' ? r.commandTag() : r.commandTag);
  }

  // ---------------------------------------------------------------------------------------------
  // extended query protocol

  private async extended(m: FrontendMessage, ctx: QueryContext): Promise<void> {
    switch (m.type) {
      case 'Parse': {
        if (m.name !== '' && this.statements.has(m.name)) {
          throw new PgError(SqlState.DUPLICATE_PREPARED_STATEMENT, `prepared statement "${m.name}" already exists`);
        }
        const stmt = await this.h.prepare(m.sql, m.paramTypes, ctx);
        if (m.name === '') this.closeStatement('');
        this.statements.set(m.name, { name: m.name, stmt });
        be.parseComplete(this.out);
        return;
      }
      case 'Bind':
        this.bind(m);
        be.bindComplete(this.out);
        return;
      case 'Describe': {
        if (m.target === 'S') {
          const s = this.statement(m.name);
          be.parameterDescription(this.out, s.stmt.paramTypes);
          const cols = s.stmt.columns;
          if (cols) be.rowDescription(this.out, this.describeColumns(cols, []));
          else be.noData(this.out);
        } else {
          const cursorCols = this.portals.has(m.name) ? undefined : this.h.describeCursor?.(m.name);
          if (cursorCols !== undefined) {
            if (cursorCols) be.rowDescription(this.out, this.describeColumns(cursorCols, []));
            else be.noData(this.out);
            return;
          }
          const p = this.portal(m.name);
          const cols = p.statement.stmt.columns;
          if (cols) be.rowDescription(this.out, this.describeColumns(cols, expandFormats(p.resultFormats, cols.length)));
          else be.noData(this.out);
        }
        return;
      }
      case 'Execute':
        await this.execute(this.portal(m.portal), m.maxRows, ctx);
        return;
      case 'Close':
        if (m.target === 'S') this.closeStatement(m.name);
        else this.closePortal(m.name);
        be.closeComplete(this.out);
        return;
      default:
        return;
    }
  }

  private statement(name: string): StatementEntry<S> {
    const s = this.statements.get(name);
    if (!s) {
      throw new PgError(
        SqlState.INVALID_SQL_STATEMENT_NAME,
        name === '' ? 'unnamed prepared statement does not exist' : `prepared statement "${name}" does not exist`,
      );
    }
    return s;
  }

  private portal(name: string): Portal<S> {
    const p = this.portals.get(name);
    if (!p) throw new PgError(SqlState.INVALID_CURSOR_NAME, `portal "${name}" does not exist`);
    return p;
  }

  private bind(m: Extract<FrontendMessage, { type: 'Bind' }>): void {
    const entry = this.statement(m.statement);
    if (m.portal !== '' && this.portals.has(m.portal)) {
      throw new PgError(SqlState.DUPLICATE_CURSOR, `cursor "${m.portal}" already exists`);
    }
    const types = entry.stmt.paramTypes;
    if (m.params.length !== types.length) {
      throw new PgError(
        SqlState.PROTOCOL_VIOLATION,
        `bind message supplies ${m.params.length} parameters, but prepared statement "${m.statement}" requires ${types.length}`,
      );
    }
    if (m.paramFormats.length > 1 && m.paramFormats.length !== m.params.length) {
      throw new PgError(
        SqlState.PROTOCOL_VIOLATION,
        `bind message has ${m.paramFormats.length} parameter formats but ${m.params.length} parameters`,
      );
    }
    const pf = expandFormats(m.paramFormats, m.params.length);
    const params = m.params.map((raw, i): PgValue => (raw === null ? null : decodeParam(types[i], pf[i], raw)));
    const cols = entry.stmt.columns ?? [];
    if (m.resultFormats.length > 1 && m.resultFormats.length !== cols.length) {
      throw new PgError(
        SqlState.PROTOCOL_VIOLATION,
        `bind message has ${m.resultFormats.length} result formats but query has ${cols.length} columns`,
      );
    }
    const rf = expandFormats(m.resultFormats, cols.length);
    rf.forEach((f, i) => {
      if (f === 1 && !cols[i].codec && !hasBinaryCodec(cols[i].typeOid)) {
        throw new PgError(SqlState.FEATURE_NOT_SUPPORTED, `binary output is not supported for type ${cols[i].typeOid}`, {
          hint: 'Request text format for this column.',
        });
      }
    });
    if (m.portal === '') this.closePortal('');
    this.portals.set(m.portal, {
      name: m.portal,
      statement: entry,
      params,
      resultFormats: m.resultFormats,
      state: 'new',
      cursor: null,
      encoderColumns: cols,
      tag: undefined,
    });
  }

  private async execute(p: Portal<S>, maxRows: number, ctx: QueryContext): Promise<void> {
    if (p.state === 'new') {
      const r = await this.h.execute({ statement: p.statement.stmt, params: p.params, portal: p.name }, ctx);
      switch (r.kind) {
        case 'rows':
          p.state = 'rows';
          p.cursor = new RowCursor(r.rows, r.batches);
          p.encoderColumns = r.columns;
          p.tag = r.commandTag;
          break;
        case 'command':
          p.state = 'done';
          p.tag = r.commandTag;
          be.commandComplete(this.out, r.commandTag);
          return;
        case 'empty':
          p.state = 'done';
          be.emptyQueryResponse(this.out);
          return;
        case 'copyIn':
        case 'copyOut':
          p.state = 'done';
          p.tag = 'COPY 0';
          await this.sendResult(r, ctx);
          return;
      }
    }
    if (p.state === 'rows' && p.cursor) {
      const formats = expandFormats(p.resultFormats, p.encoderColumns.length);
      let suspended: boolean;
      try {
        suspended = await this.streamRows(p.cursor, p.encoderColumns, formats, maxRows, ctx);
      } catch (e) {
        // A failed portal can't be resumed.
        p.cursor.close();
        p.state = 'done';
        throw e;
      }
      if (suspended) {
        be.portalSuspended(this.out);
        return;
      }
      be.commandComplete(this.out, rowTag(p.tag, p.cursor.count));
      p.cursor.close();
      p.state = 'done';
      if (typeof p.tag !== 'string') p.tag = rowTag(p.tag, 0);
      return;
    }
    // Executing a completed portal again yields no rows, just its tag.
    be.commandComplete(this.out, typeof p.tag === 'string' ? p.tag : rowTag(p.tag, 0));
  }

  private closeStatement(name: string): void {
    const s = this.statements.get(name);
    if (!s) return;
    this.statements.delete(name);
    // Closing a statement closes the portals built from it.
    for (const [pname, p] of this.portals) if (p.statement === s) this.closePortal(pname);
    const h = this.handler;
    if (h?.closeStatement) this.safely(() => h.closeStatement?.(s.stmt));
  }

  private closePortal(name: string): void {
    const p = this.portals.get(name);
    if (!p) return;
    p.cursor?.close();
    this.portals.delete(name);
  }

  private dropPortals(): void {
    for (const p of this.portals.values()) p.cursor?.close();
    this.portals.clear();
  }
}
