// The SQL edge of the KV layers' errors: the one place where a replica's, the KV RPC's or the KV
// client's typed error becomes the PgError a client sees, with the SQLSTATE of @weft/kv's table
// (40001 retryable, 40003 outcome unknown, 57P03 shard unavailable, XX001 replica stopped).
// Anything else passes through unchanged (pgwire reports a non-PgError as XX000).
import { sqlstateOf } from '@weft/kv';
import { PgError } from '@weft/pgwire';

export function kvErrorToPg(e: unknown): unknown {
  if (e instanceof PgError || !(e instanceof Error)) return e;
  const code = sqlstateOf(e);
  if (code === undefined) return e;
  return new PgError(code, e.message, code === '40001' ? { hint: 'Retry the transaction.' } : {});
}
