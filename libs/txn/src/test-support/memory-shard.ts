// An in-memory ShardKv with the documented apply semantics of a `commit` entry, for unit tests
// of the transaction and SQL layers that do not need RocksDB. Not for production: O(n) scans.
import type { KvRow, ScanPage, ScanRequestOptions, ShardKv, TxnStatus } from '@weft/kv';
import type { ApplyOutcome, LogEntry, Timestamp } from '@weft/logentry';

interface Version {
  readonly ts: Timestamp;
  /** undefined = deletion tombstone. */
  readonly value: Buffer | undefined;
}

export class MemoryShard implements ShardKv {
  readonly shardId: number;
  /** key (latin1) -> versions, newest first. */
  private readonly data = new Map<string, Version[]>();
  private lastTs = 0n;
  /** Entries proposed, for tests that inspect what the txn layer sends. */
  readonly proposed: LogEntry[] = [];

  constructor(shardId = 1) {
    this.shardId = shardId;
  }

  async now(): Promise<Timestamp> {
    return this.lastTs;
  }

  async get(key: Buffer, ts: Timestamp): Promise<KvRow | undefined> {
    const v = this.visible(key.toString('latin1'), ts);
    return v?.value ? { key, value: v.value, ts: v.ts } : undefined;
  }

  async scan(start: Buffer, end: Buffer, ts: Timestamp, options: ScanRequestOptions = {}): Promise<ScanPage> {
    const lo = start.toString('latin1');
    const hi = end.toString('latin1');
    const keys = [...this.data.keys()].filter((x) => x >= lo && x < hi).sort();
    if (options.reverse) keys.reverse();
    const rows: KvRow[] = [];
    for (const key of keys) {
      const v = this.visible(key, ts);
      if (!v?.value) continue;
      if (options.limit !== undefined && rows.length >= options.limit) {
        // Resume from the next key: forward resumes at it, reverse ends just after it.
        const resume = Buffer.from(key, 'latin1');
        return { rows, resumeKey: options.reverse ? Buffer.concat([resume, Buffer.from([0])]) : resume };
      }
      rows.push({ key: Buffer.from(key, 'latin1'), value: v.value, ts: v.ts });
    }
    return { rows };
  }

  /** MemoryShard has no 2PC: every transaction is unknown to it. */
  async txnStatus(): Promise<TxnStatus> {
    return { kind: 'unknown' };
  }

  async propose(entry: LogEntry): Promise<ApplyOutcome> {
    this.proposed.push(entry);
    if (entry.type === 'stage') return { status: 'aborted', sqlstate: '0A000', message: 'MemoryShard does not stage transactions (use LocalShard)' };
    if (entry.type !== 'commit') return { status: 'applied' };
    const newer = (key: string): boolean => (this.data.get(key)?.[0]?.ts ?? 0n) > entry.readTs;
    for (const r of entry.reads) {
      const conflict =
        r.kind === 'point'
          ? newer(r.key.toString('latin1'))
          : [...this.data.keys()].some((x) => x >= r.start.toString('latin1') && x < r.end.toString('latin1') && newer(x));
      if (conflict) return { status: 'aborted', sqlstate: '40001', message: 'could not serialize access due to concurrent update' };
    }
    for (const w of entry.writes) {
      const key = w.key.toString('latin1');
      if (newer(key)) return { status: 'aborted', sqlstate: '40001', message: 'could not serialize access due to concurrent update' };
      if (w.kind === 'put' && w.ifAbsent && this.visible(key, this.lastTs)?.value) {
        return {
          status: 'aborted',
          sqlstate: '23505',
          message: `duplicate key value violates unique constraint "${w.ifAbsent.constraint}"`,
          detail: w.ifAbsent.detail,
          constraint: w.ifAbsent.constraint,
        };
      }
    }
    let commitTs = entry.minCommitTs > this.lastTs + 1n ? entry.minCommitTs : this.lastTs + 1n;
    if (commitTs <= entry.readTs) commitTs = entry.readTs + 1n;
    this.lastTs = commitTs;
    for (const w of entry.writes) {
      const key = w.key.toString('latin1');
      const versions = this.data.get(key) ?? [];
      versions.unshift({ ts: commitTs, value: w.kind === 'put' ? w.value : undefined });
      this.data.set(key, versions);
    }
    return { status: 'committed', commitTs };
  }

  private visible(key: string, ts: Timestamp): Version | undefined {
    return this.data.get(key)?.find((v) => v.ts <= ts);
  }
}
