// AS OF SYSTEM TIME and bounded staleness: read-only statements at a past timestamp, served by
// any replica whose closed timestamp covers it (follower reads) instead of the leaseholder.
//   SELECT ... FROM t AS OF SYSTEM TIME '-5s' WHERE ...
//   SELECT ... FROM t AS OF SYSTEM TIME follower_read_timestamp()
//   SET weft.max_staleness = '5s'   -- plain SELECTs outside a transaction block read 5 s back
// The clause is not in Postgres' grammar: parse.ts lifts it out of the text before parsing.
import { S, sqlError } from './errors';

/** How far behind the present a follower's closed timestamp may be (closed every 200 ms busy, 2 s idle). */
export const FOLLOWER_READ_LAG_US = 3_000_000n;

const CLAUSE = /\s+AS\s+OF\s+SYSTEM\s+TIME\s+('(?:[^']|'')*'|follower_read_timestamp\s*\(\s*\)|-?\d+(?:\.\d+)?)/i;

/** Removes an AS OF SYSTEM TIME clause from one statement's text; returns the expression too. */
export function liftAsOf(sql: string): { sql: string; asOf?: string } {
  const m = CLAUSE.exec(sql);
  if (!m) return { sql };
  return { sql: sql.slice(0, m.index) + sql.slice(m.index + m[0].length), asOf: m[1] };
}

const UNITS: Record<string, bigint> = {
  us: 1n, 'µs': 1n, ms: 1000n, s: 1_000_000n, sec: 1_000_000n, second: 1_000_000n, seconds: 1_000_000n,
  m: 60_000_000n, min: 60_000_000n, minute: 60_000_000n, minutes: 60_000_000n, h: 3_600_000_000n, hour: 3_600_000_000n, hours: 3_600_000_000n,
};

/** A duration like '5s', '250ms', '1.5 min' in microseconds, or undefined. */
export function parseDurationUs(text: string): bigint | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zµ]+)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = UNITS[(m[2] ?? 's').toLowerCase()];
  if (unit === undefined) return undefined;
  return BigInt(Math.round(Number(m[1]) * Number(unit)));
}

/**
 * The timestamp (microseconds since the Unix epoch) an AS OF SYSTEM TIME expression names,
 * given the present `nowUs`: a negative duration back from now, follower_read_timestamp(), an
 * absolute timestamp literal, or a decimal of nanoseconds since the epoch.
 */
export function resolveAsOf(expr: string, nowUs: bigint): bigint {
  const e = expr.trim();
  if (/^follower_read_timestamp\s*\(\s*\)$/i.test(e)) return nowUs - FOLLOWER_READ_LAG_US;
  const text = e.startsWith("'") ? e.slice(1, -1).replace(/''/g, "'") : e;
  let ts: bigint | undefined;
  if (text.trim().startsWith('-')) {
    const d = parseDurationUs(text.trim().slice(1));
    if (d !== undefined) ts = nowUs - d;
  } else if (/^\d+(\.\d+)?$/.test(text.trim())) {
    ts = BigInt(text.trim().split('.')[0]) / 1000n;
  } else {
    const iso = /[zZ]|[+-]\d\d(:?\d\d)?$/.test(text) ? text : `${text}Z`;
    const ms = Date.parse(iso.replace(' ', 'T'));
    if (!Number.isNaN(ms)) ts = BigInt(ms) * 1000n;
  }
  if (ts === undefined) {
    throw sqlError(S.INVALID_PARAMETER_VALUE, `AS OF SYSTEM TIME: cannot read ${expr} as a timestamp`, {
      hint: "Use a negative interval such as '-5s', follower_read_timestamp(), or a timestamp literal.",
    });
  }
  if (ts > nowUs) throw sqlError(S.INVALID_PARAMETER_VALUE, `AS OF SYSTEM TIME: ${expr} is in the future`);
  return ts;
}
