// The SQL edge of the KV layers' errors: the one place where a replica's, the KV RPC's or the KV
// client's typed error becomes the PgError a client sees, with the SQLSTATE of @weft/kv's table
// (40001 retryable, 40003 outcome unknown, 57P03 shard unavailable, XX001 replica stopped).
// Anything else passes through unchanged (pgwire reports a non-PgError as XX000).
import { sqlstateOf } from '@weft/kv';
import { PgError } from '@weft/pgwire';

export function kvErrorToPg(e: unknown, opts: { userTimestamp?: boolean } = {}): unknown {
  if (e instanceof PgError || !(e instanceof Error)) return e;
  let code = sqlstateOf(e);
  if (code === undefined) return e;
  // A read below a shard's gc threshold (72000, "snapshot too old") is the user's to fix only
  // when they chose the timestamp (AS OF SYSTEM TIME, weft.max_staleness). A snapshot Weft
  // chose just grew older than the gc ttl: restarting the transaction with a new one fixes it.
  if (code === SNAPSHOT_TOO_OLD && opts.userTimestamp !== true) code = '40001';
  return new PgError(code, e.message, code === '40001' ? { hint: 'Retry the transaction.' } : {});
}

const SNAPSHOT_TOO_OLD = '72000';
