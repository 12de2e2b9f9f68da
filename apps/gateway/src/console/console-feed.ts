import type { StatementType } from '../sql-metrics';

/** A session as the console lists it. */
export interface ConsoleSession {
  readonly pid: number;
  readonly user: string;
  readonly tenant: string;
  readonly application: string;
  readonly client: string;
  readonly connectedAt: string;
  readonly state: 'idle' | 'active';
  /** The running statement's text (first 200 characters) while active. */
  readonly statement: string | null;
  readonly runningMs: number | null;
}

export interface SlowStatement {
  readonly at: string;
  readonly ms: number;
  readonly type: StatementType;
  readonly tenant: string;
  /** First 200 characters of the SQL text. */
  readonly text: string;
}

interface SessionRecord {
  readonly pid: number;
  readonly user: string;
  readonly application: string;
  readonly client: string;
  readonly connectedAt: number;
  tenant: string;
  statement: string | null;
  startedAt: number;
}

/** Latencies kept for the console's live p50/p99. */
const WINDOW_MS = 10_000;
const MAX_WINDOW = 20_000;
/** Slowest statements kept (over the last SLOW_KEEP_MS). */
const SLOWEST = 10;
const SLOW_KEEP_MS = 5 * 60_000;
const TEXT_CHARS = 200;

const clip = (s: string): string => (s.length > TEXT_CHARS ? `${s.slice(0, TEXT_CHARS)}…` : s);

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * What the gateway's web console shows about SQL (apps/gateway/src/console): the sessions and
 * the statements they are running, totals to derive rates from, latencies of the last 10 s for
 * p50/p99, and the slowest statements of the last 5 minutes. Fed by the session wrapper
 * (sql-metrics.ts); everything is bounded in memory.
 */
export class ConsoleFeed {
  private readonly sessions = new Map<number, SessionRecord>();
  private window: { at: number; ms: number }[] = [];
  private slow: (SlowStatement & { atMs: number })[] = [];
  statements = 0;
  commits = 0;
  aborts = 0;

  opened(pid: number, user: string, application: string, client: string): void {
    this.sessions.set(pid, { pid, user, application, client, connectedAt: Date.now(), tenant: user, statement: null, startedAt: 0 });
  }

  closed(pid: number): void {
    this.sessions.delete(pid);
  }

  started(pid: number, text: string): void {
    const s = this.sessions.get(pid);
    if (!s) return;
    s.statement = clip(text);
    s.startedAt = Date.now();
  }

  ended(pid: number, type: StatementType, ms: number, tenant: string): void {
    const now = Date.now();
    this.statements++;
    const s = this.sessions.get(pid);
    if (s) {
      s.tenant = tenant;
      const text = s.statement ?? '';
      s.statement = null;
      if (this.slow.length < SLOWEST || ms > this.slow[this.slow.length - 1].ms) {
        this.slow.push({ at: new Date(now).toISOString(), atMs: now, ms: Math.round(ms * 10) / 10, type, tenant, text });
        this.slow.sort((a, b) => b.ms - a.ms);
        if (this.slow.length > SLOWEST) this.slow.length = SLOWEST;
      }
    }
    this.window.push({ at: now, ms });
    if (this.window.length > MAX_WINDOW) this.window = this.window.slice(-MAX_WINDOW / 2);
  }

  snapshot(): {
    statements: number;
    commits: number;
    aborts: number;
    latencyMs: { p50: number | null; p99: number | null; count: number };
    slowest: SlowStatement[];
    sessions: ConsoleSession[];
  } {
    const now = Date.now();
    this.window = this.window.filter((w) => now - w.at <= WINDOW_MS);
    this.slow = this.slow.filter((s) => now - s.atMs <= SLOW_KEEP_MS);
    const sorted = this.window.map((w) => w.ms).sort((a, b) => a - b);
    return {
      statements: this.statements,
      commits: this.commits,
      aborts: this.aborts,
      latencyMs: { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), count: sorted.length },
      slowest: this.slow.map(({ atMs: _atMs, ...s }) => s),
      sessions: [...this.sessions.values()].map((s) => ({
        pid: s.pid,
        user: s.user,
        tenant: s.tenant,
        application: s.application,
        client: s.client,
        connectedAt: new Date(s.connectedAt).toISOString(),
        state: s.statement === null ? 'idle' : 'active',
        statement: s.statement,
        runningMs: s.statement === null ? null : now - s.startedAt,
      })),
    };
  }
}
