import pino, { type Logger, type LevelWithSilent } from 'pino';
import { noteRecentError, type RecentError } from './recent-errors';
import { currentTraceIds } from './telemetry';

const LEVELS: Readonly<Record<number, RecentError['level']>> = { 40: 'warn', 50: 'error', 60: 'fatal' };

/**
 * Structured JSON logs (one object per line on stdout) carrying the service name and, inside
 * a traced operation, its trace and span ids so a log line can be joined to its trace.
 * Warnings and errors are also kept in a small in-memory ring (recentErrors) so health and
 * `weft status` can show the last ones without a log pipeline.
 */
export function createLogger(service: string, level: LevelWithSilent): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => currentTraceIds(),
    hooks: {
      logMethod(args, method, levelNum) {
        const lvl = LEVELS[levelNum];
        if (lvl) noteRecentError(summarize(lvl, args));
        method.apply(this, args);
      },
    },
  });
}

/** The message, shard and error of a pino call's arguments ({obj}, msg) or (msg). */
function summarize(level: RecentError['level'], args: unknown[]): RecentError {
  const [first, second] = args;
  const obj = typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : undefined;
  const msg = typeof first === 'string' ? first : typeof second === 'string' ? second : '';
  const err = obj?.err instanceof Error ? obj.err.message : typeof obj?.err === 'string' ? obj.err : undefined;
  const shard = typeof obj?.shard === 'number' ? obj.shard : undefined;
  return { time: new Date().toISOString(), level, msg, ...(shard !== undefined ? { shard } : {}), ...(err !== undefined ? { err } : {}) };
}
