// Session settings (GUCs): SET/SHOW/RESET and current_setting(). Unknown names are accepted by
// SET only when they are custom (contain a dot), as in Postgres; the rest are listed here.
import { S, sqlError } from './errors';
import { normalizeTimeZone } from './types/timezone';

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

export const SETTINGS: Readonly<Record<string, SettingDef>> = {
  application_name: { default: '', report: true },
  client_encoding: {
    default: 'UTF8',
    report: true,
    normalize: (v) => {
      const s = v.toUpperCase().replace(/[-_]/g, '');
      if (s !== 'UTF8' && s !== 'UNICODE' && s !== 'SQLASCII') throw sqlError(S.FEATURE_NOT_SUPPORTED, `conversion to encoding "${v}" is not supported`);
      return s === 'SQLASCII' ? 'SQL_ASCII' : 'UTF8';
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
};

export class Settings {
  private readonly values = new Map<string, string>();

  constructor(initial: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(initial)) {
      try {
        this.set(k, v);
      } catch {
        // Startup parameters that fail validation keep their defaults, as Postgres warns and ignores.
      }
    }
  }

  get(name: string): string | undefined {
    const k = name.toLowerCase();
    return this.values.get(k) ?? SETTINGS[k]?.default;
  }

  set(name: string, value: string): { name: string; value: string; report: boolean } {
    const k = name.toLowerCase();
    const def = SETTINGS[k];
    if (!def && !k.includes('.')) throw sqlError(S.UNDEFINED_OBJECT, `unrecognized configuration parameter "${name}"`);
    const v = def?.normalize ? def.normalize(value) : value;
    this.values.set(k, v);
    return { name: reportName(k), value: v, report: def?.report ?? false };
  }

  reset(name: string): { name: string; value: string; report: boolean } {
    const k = name.toLowerCase();
    this.values.delete(k);
    return { name: reportName(k), value: this.get(k) ?? '', report: SETTINGS[k]?.report ?? false };
  }

  all(): [string, string][] {
    const names = new Set([...Object.keys(SETTINGS), ...this.values.keys()]);
    return [...names].sort().map((n) => [n, this.get(n) ?? '']);
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
