// Session settings (GUCs): SET/SHOW/RESET and current_setting(). Unknown names are accepted by
// SET only when they are custom (contain a dot), as in Postgres; the rest are listed here.
import { canonicalEncodingName, SUPPORTED_CLIENT_ENCODINGS } from '@weft/pgwire';
import { HASH_SPACE } from '@weft/storage';
import { S, sqlError } from './errors';
import { normalizeTimeZone } from './types/timezone';
import { parseDurationUs } from './as-of';

export interface SettingDef {
  readonly default: string;
  /** Reported to the client in ParameterStatus when changed. */
  readonly report?: boolean;
  readonly normalize?: (v: string) => string;
  readonly description?: string;
}

const onOff = (v: string): string => {
  const s = v.toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(s)) return 'on';
  if (['off', 'false', 'no', '0'].includes(s)) return 'off';
  throw sqlError(S.INVALID_PARAMETER_VALUE, `parameter requires a Boolean value`);
};

/** A shard count (decision 0051): an integer from 1 (0 too where it means "all") to the hash space's size; else 22023. */
export function shardCount(text: string, what: string, zeroMeansAll = false): number {
  const n = /^\s*\d{1,6}\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < (zeroMeansAll ? 0 : 1) || n > HASH_SPACE) {
    throw sqlError(S.INVALID_PARAMETER_VALUE, `invalid value for parameter "${what}": "${text}"`, { detail: `Valid values are between "${zeroMeansAll ? 0 : 1}" and "${HASH_SPACE}".` });
  }
  return n;
}

export const SETTINGS: Readonly<Record<string, SettingDef>> = {
  application_name: { default: '', report: true },
  client_encoding: {
    default: 'UTF8',
    report: true,
    // Encoding names as Postgres reads them: 'utf-8', utf8, UTF_8, unicode all name UTF8.
    normalize: (v) => {
      const e = canonicalEncodingName(v);
      if (!e) throw sqlError(S.INVALID_PARAMETER_VALUE, `invalid value for parameter "client_encoding": "${v}"`);
      if (!SUPPORTED_CLIENT_ENCODINGS.has(e)) throw sqlError(S.FEATURE_NOT_SUPPORTED, `conversion between ${e} and UTF8 is not supported`);
      return e;
    },
  },
  datestyle: { default: 'ISO, MDY', report: true },
  intervalstyle: { default: 'postgres', report: true },
  timezone: {
    default: 'UTC',
    report: true,
    normalize: (v) => normalizeTimeZone(v),
  },
  search_path: { default: '"$user", public' },
  standard_conforming_strings: { default: 'on', report: true },
  server_version: { default: '15.0' },
  server_version_num: { default: '150000' },
  server_encoding: { default: 'UTF8' },
  integer_datetimes: { default: 'on' },
  is_superuser: { default: 'on', report: true },
  transaction_isolation: { default: 'serializable' },
  default_transaction_isolation: { default: 'serializable' },
  transaction_read_only: { default: 'off', normalize: onOff },
  default_transaction_read_only: { default: 'off', normalize: onOff },
  statement_timeout: { default: '0' },
  lock_timeout: { default: '0' },
  // Bounded staleness: plain SELECTs outside a transaction block read this far back, from the
  // nearest replica whose closed timestamp covers it ('0' = strong reads at the leaseholder).
  'weft.max_staleness': {
    default: '0',
    normalize: (v) => {
      if (v.trim() === '0' || v.trim() === '') return '0';
      if (parseDurationUs(v) === undefined) throw sqlError(S.INVALID_PARAMETER_VALUE, `invalid value for parameter "weft.max_staleness": "${v}"`, { hint: "Use a duration such as '5s' or '500ms', or 0 for strong reads." });
      return v.trim();
    },
  },
  // Full and span scans send the WHERE conjuncts the shards can evaluate along (decision 0038);
  // 'off' filters every row at the gateway (for comparisons and diagnosis).
  'weft.filter_pushdown': { default: 'on', normalize: onOff },
  // Shards a CREATE TABLE without WITH (shards = N) spreads its rows over (0: every shard).
  'weft.default_table_shards': { default: '0', normalize: (v) => String(shardCount(v, 'weft.default_table_shards', true)) },
  idle_in_transaction_session_timeout: { default: '0' },
  extra_float_digits: { default: '1' },
  client_min_messages: { default: 'notice' },
  synchronous_commit: { default: 'on' },
  max_identifier_length: { default: '63' },
  max_connections: { default: '1000' },
  block_size: { default: '8192' },
  lc_collate: { default: 'C' },
  lc_ctype: { default: 'C' },
  lc_messages: { default: 'C' },
  lc_monetary: { default: 'C' },
  lc_numeric: { default: 'C' },
  lc_time: { default: 'C' },
  bytea_output: { default: 'hex' },
  escape_string_warning: { default: 'on' },
  row_security: { default: 'on' },
  jit: { default: 'off' },
  work_mem: { default: '4MB' },
  maintenance_work_mem: { default: '64MB' },
  enable_seqscan: { default: 'on' },
  check_function_bodies: { default: 'on' },
  xmloption: { default: 'content' },
  session_replication_role: { default: 'origin' },
  default_tablespace: { default: '' },
  temp_tablespaces: { default: '' },
  vacuum_cost_delay: { default: '0' },
  application_name_prefix: { default: '' },
  plan_cache_mode: { default: 'auto' },
  session_authorization: { default: '' },
  role: { default: 'none' },
  default_with_oids: { default: 'off' },
  // Read by ORMs and drivers: SQLAlchemy's reflection (default_table_access_method), pgjdbc's
  // DatabaseMetaData (max_index_keys), pg_dump (server limits).
  default_table_access_method: { default: 'heap' },
  max_index_keys: { default: '32' },
  max_function_args: { default: '100' },
  segment_size: { default: '131072' },
  wal_block_size: { default: '8192' },
  data_checksums: { default: 'off' },
  // pg_dump turns these off/on for its session; Weft has no synchronized scans or identifier
  // quoting choice, but the settings exist so pg_dump (and restores of its output) run.
  synchronize_seqscans: { default: 'on', normalize: onOff },
  quote_all_identifiers: { default: 'off', normalize: onOff },
  lo_compat_privileges: { default: 'off', normalize: onOff },
  default_toast_compression: { default: 'pglz' },
  transaction_deferrable: { default: 'off', normalize: onOff },
  default_transaction_deferrable: { default: 'off', normalize: onOff },
};

/** The settings as they were at BEGIN or at a SAVEPOINT (restored by ROLLBACK [TO]). */
export interface SettingsSnapshot {
  readonly values: ReadonlyMap<string, string>;
  readonly atCommit: ReadonlyMap<string, string>;
}

/** A reported setting whose value changed (sent to the client as ParameterStatus). */
export interface SettingChange {
  readonly name: string;
  readonly value: string;
}

/**
 * The session's settings with PostgreSQL's transactional semantics: inside a transaction `set`
 * changes the current value and the value kept at COMMIT; `set(..., local)` (SET LOCAL,
 * set_config(..., true)) changes only the current value, so it ends with the transaction;
 * ROLLBACK (and ROLLBACK TO a savepoint) restores what the settings were at BEGIN (the savepoint).
 */
export class Settings {
  private values = new Map<string, string>();
  /** Inside a transaction: the values COMMIT keeps (SET, RESET, not SET LOCAL). */
  private atCommit: Map<string, string> | undefined;
  /** Inside a transaction: the values at BEGIN (ROLLBACK restores them). */
  private atBegin: Map<string, string> | undefined;
  /**
   * Custom (dotted) names once set: as Postgres's placeholder variables they stay defined, with
   * an empty value, after a ROLLBACK, the end of a SET LOCAL or RESET.
   */
  private readonly placeholders = new Set<string>();

  /** Startup-packet values: what RESET and RESET ALL return to, as in Postgres. */
  private readonly resetValues = new Map<string, string>();

  constructor(initial: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(initial)) {
      try {
        this.resetValues.set(k.toLowerCase(), this.check(k, v));
        if (!SETTINGS[k.toLowerCase()]) this.placeholders.add(k.toLowerCase());
      } catch {
        // Startup parameters that fail validation keep their defaults, as Postgres warns and ignores.
      }
    }
  }

  get inTransaction(): boolean {
    return this.atCommit !== undefined;
  }

  get(name: string): string | undefined {
    const k = name.toLowerCase();
    return this.values.get(k) ?? this.resetValues.get(k) ?? SETTINGS[k]?.default ?? (this.placeholders.has(k) ? '' : undefined);
  }

  /** Validates and normalizes a value without setting it. */
  check(name: string, value: string): string {
    const k = name.toLowerCase();
    const def = SETTINGS[k];
    if (!def && !k.includes('.')) throw sqlError(S.UNDEFINED_OBJECT, `unrecognized configuration parameter "${name}"`);
    return def?.normalize ? def.normalize(value) : value;
  }

  /** SET (local: SET LOCAL, which lasts until the end of the transaction). */
  set(name: string, value: string, local = false): { name: string; value: string; report: boolean } {
    const k = name.toLowerCase();
    const v = this.check(k, value);
    if (!SETTINGS[k]) this.placeholders.add(k);
    this.values.set(k, v);
    if (!local) this.atCommit?.set(k, v);
    return { name: reportName(k), value: v, report: SETTINGS[k]?.report ?? false };
  }

  reset(name: string, local = false): { name: string; value: string; report: boolean } {
    const k = name.toLowerCase();
    this.check(k, this.get(k) ?? '');
    if (!SETTINGS[k]) this.placeholders.add(k);
    this.values.delete(k);
    if (!local) this.atCommit?.delete(k);
    return { name: reportName(k), value: this.get(k) ?? '', report: SETTINGS[k]?.report ?? false };
  }

  all(): [string, string][] {
    const names = new Set([...Object.keys(SETTINGS), ...this.resetValues.keys(), ...this.values.keys()]);
    return [...names].sort().map((n) => [n, this.get(n) ?? '']);
  }

  /** Start of a transaction (explicit block, implicit multi-statement or single statement). */
  beginTransaction(): void {
    if (this.atCommit) return;
    this.atBegin = new Map(this.values);
    this.atCommit = new Map(this.values);
  }

  /** COMMIT: SET LOCAL values end, SET values stay. Returns the reported settings that changed. */
  commitTransaction(): SettingChange[] {
    if (!this.atCommit) return [];
    return this.replace(this.atCommit);
  }

  /** ROLLBACK: every change made in the transaction is undone. */
  rollbackTransaction(): SettingChange[] {
    if (!this.atBegin) return [];
    return this.replace(this.atBegin);
  }

  savepoint(): SettingsSnapshot {
    return { values: new Map(this.values), atCommit: new Map(this.atCommit ?? this.values) };
  }

  /** ROLLBACK TO SAVEPOINT: the settings as they were when the savepoint was taken. */
  rollbackTo(s: SettingsSnapshot): SettingChange[] {
    const before = this.reported();
    this.values = new Map(s.values);
    if (this.atCommit) this.atCommit = new Map(s.atCommit);
    return this.changedSince(before);
  }

  private replace(values: Map<string, string>): SettingChange[] {
    const before = this.reported();
    this.values = new Map(values);
    this.atCommit = undefined;
    this.atBegin = undefined;
    return this.changedSince(before);
  }

  private reported(): Map<string, string> {
    const m = new Map<string, string>();
    for (const [k, d] of Object.entries(SETTINGS)) if (d.report) m.set(k, this.get(k) ?? '');
    return m;
  }

  private changedSince(before: Map<string, string>): SettingChange[] {
    const out: SettingChange[] = [];
    for (const [k, v] of before) {
      const now = this.get(k) ?? '';
      if (now !== v) out.push({ name: reportName(k), value: now });
    }
    return out;
  }

  searchPath(user: string): string[] {
    return (this.get('search_path') ?? 'public')
      .split(',')
      .map((s) => s.trim().replace(/^"(.*)"$/, '$1'))
      .map((s) => (s === '$user' ? user : s))
      .filter((s) => s.length > 0);
  }
}

const REPORT_NAMES: Record<string, string> = { datestyle: 'DateStyle', intervalstyle: 'IntervalStyle', timezone: 'TimeZone' };
const reportName = (k: string): string => REPORT_NAMES[k] ?? k;
/** The GUC's spelling in Postgres (SHOW's column name, ParameterStatus). */
export const canonicalSettingName = reportName;
