import pino, { type Logger, type LevelWithSilent } from 'pino';
import { currentTraceIds } from './telemetry';

/**
 * Structured JSON logs (one object per line on stdout) carrying the service name and, inside
 * a traced operation, its trace and span ids so a log line can be joined to its trace.
 */
export function createLogger(service: string, level: LevelWithSilent): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => currentTraceIds(),
  });
}
