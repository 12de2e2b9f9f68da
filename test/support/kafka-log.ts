// Reading Weft's mirrored shard logs back from Kafka the way a downstream team would (a plain
// kafkajs consumer, read_committed), and checking what the mirror promises.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import { RemoteShardKv } from '@weft/kvrpc';
import { Materializer } from '@weft/materialize';
import { fromMessage, logTopic, type LogRecord } from '@weft/mirror';
import { MvccStore } from '@weft/storage';

export interface ShardMirrorView {
  shardId: number;
  state: string;
  term?: number;
  mirroredIndex: number;
  appliedIndex: number;
  backlogEntries: number;
  backlogAgeMs: number;
  overflowed: boolean;
  entriesProduced: number;
  gaps: number;
  errors: number;
  lastError?: string;
}

/** A node's GET /mirror. */
export async function mirrorStats(httpPort: number): Promise<{ enabled: boolean; nodeId?: number; shards?: ShardMirrorView[] }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/mirror`);
  if (res.status !== 200) throw new Error(`GET /mirror: HTTP ${res.status}`);
  return (await res.json()) as { enabled: boolean; nodeId?: number; shards?: ShardMirrorView[] };
}

/**
 * The index every shard's leader reports mirrored, once it equals that shard's applied index
 * on every node that answers (the mirror caught up); undefined while not.
 */
export async function caughtUp(httpPorts: readonly number[], shardIds: readonly number[]): Promise<Map<number, number> | undefined> {
  const views = (await Promise.all(httpPorts.map((p) => mirrorStats(p).catch(() => undefined)))).filter((v) => v !== undefined);
  const out = new Map<number, number>();
  for (const id of shardIds) {
    const rows = views.flatMap((v) => v.shards?.filter((s) => s.shardId === id) ?? []);
    const leader = rows.find((r) => r.state === 'mirroring');
    if (!leader || leader.mirroredIndex !== leader.appliedIndex) return undefined;
    if (rows.some((r) => r.appliedIndex > leader.mirroredIndex)) return undefined;
    out.set(id, leader.mirroredIndex);
  }
  return out;
}

/**
 * Consumes the log topics of `shardIds` from the beginning until each reached `upTo` (or the
 * timeout passes) and returns every record, in topic order, per shard.
 */
export async function readLogs(kafka: Kafka, prefix: string, upTo: ReadonlyMap<number, number>, timeoutMs = 60_000): Promise<Map<number, LogRecord[]>> {
  const out = new Map<number, LogRecord[]>([...upTo.keys()].map((id) => [id, []]));
  const consumer = kafka.consumer({ groupId: `${prefix}.test-reader.${Math.random().toString(36).slice(2)}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...upTo.keys()].map((id) => logTopic(prefix, id)), fromBeginning: true });
    const reached = (): boolean => [...upTo].every(([id, target]) => (out.get(id)?.at(-1)?.index ?? 0) >= target);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const got = [...out].map(([id, rs]) => `shard ${id}: ${rs.at(-1)?.index ?? 0}/${upTo.get(id)}`).join(', ');
        reject(new Error(`log topics did not reach their targets within ${timeoutMs} ms (${got})`));
      }, timeoutMs);
      if (reached()) {
        clearTimeout(timer);
        resolve();
      }
      void consumer.run({
        eachMessage: async ({ message, topic }) => {
          const rec = fromMessage(message, `${topic}@${message.offset}`);
          out.get(rec.shardId)?.push(rec);
          if (reached()) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Index problems of one shard's records: gaps, duplicates, disorder (empty when gap-free from 1). */
export function indexProblems(records: readonly LogRecord[]): string[] {
  const problems: string[] = [];
  let expect = 1;
  for (const r of records) {
    const from = r.outcome.status === 'gap' ? r.outcome.gapFrom : r.index;
    if (from !== expect) problems.push(r.index < expect ? `index ${r.index} again after ${expect - 1}` : `gap before index ${from} (expected ${expect})`);
    expect = Math.max(expect, r.index + 1);
  }
  return problems;
}

/** Applies a shard's records with the replicas' own materializer in a scratch RocksDB. */
export class ScratchMaterializer {
  private constructor(
    private readonly dir: string,
    private readonly store: MvccStore,
    readonly sm: Materializer,
  ) {}

  static async open(shardId: number): Promise<ScratchMaterializer> {
    const dir = mkdtempSync(path.join(tmpdir(), 'weft-scratch-mat-'));
    const store = await MvccStore.open(dir);
    return new ScratchMaterializer(dir, store, await Materializer.open(store, shardId));
  }

  /** Applies records up to and including `upTo`; checks each outcome against its header. */
  applyUpTo(records: readonly LogRecord[], upTo: number): void {
    for (const r of records) {
      if (r.index <= this.sm.appliedIndex) continue;
      if (r.index > upTo) break;
      if (r.outcome.status === 'gap') throw new Error(`gap record at ${r.index}`);
      if (r.outcome.status === 'empty') {
        this.sm.applyEmpty(r.index);
        continue;
      }
      const got = this.sm.apply(r.index, r.data);
      if (got === 'already-applied') continue;
      const want = r.outcome;
      const same =
        (want.status === 'committed' && got.status === 'committed' && got.commitTs === want.commitTs) ||
        (want.status === 'aborted' && got.status === 'aborted' && got.sqlstate === want.sqlstate) ||
        (want.status === 'applied' && got.status === 'applied' && got.ts === want.ts) ||
        want.status === 'unknown';
      if (!same) throw new Error(`index ${r.index}: header outcome ${JSON.stringify(want, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))} but applying gave ${got.status}`);
    }
  }

  async close(): Promise<void> {
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Replays each shard's topic in a scratch materializer and compares its state hash with a
 * replica's at the same applied index (the replicas keep applying closed-timestamp entries, so
 * it chases the slowest replica's index, reading further into the topic as needed). Returns the
 * index compared per shard.
 */
export async function compareWithReplicas(
  kafka: Kafka,
  prefix: string,
  shardIds: readonly number[],
  kvPorts: readonly { nodeId: number; port: number }[],
  timeoutMs = 60_000,
): Promise<Map<number, number>> {
  const compared = new Map<number, number>();
  for (const shardId of shardIds) {
    const kv = new RemoteShardKv({ shardId, replicas: kvPorts.map((p) => ({ nodeId: p.nodeId, host: '127.0.0.1', port: p.port })), requestTimeoutMs: 3000 });
    const m = await ScratchMaterializer.open(shardId);
    const statuses = async () => (await Promise.all(kvPorts.map((p) => kv.replicaStatus(p.nodeId).catch(() => undefined)))).filter((s) => s !== undefined);
    try {
      let recs: LogRecord[] = [];
      const end = Date.now() + timeoutMs;
      for (;;) {
        if (Date.now() > end) throw new Error(`shard ${shardId}: never caught a replica at an index the replay reached (replay at ${m.sm.appliedIndex})`);
        const ahead = (await statuses()).filter((s) => s.appliedIndex >= m.sm.appliedIndex);
        if (ahead.length === 0) continue;
        const target = Math.min(...ahead.map((s) => s.appliedIndex));
        if ((recs.at(-1)?.index ?? 0) < target) recs = (await readLogs(kafka, prefix, new Map([[shardId, target]]))).get(shardId) ?? [];
        m.applyUpTo(recs, target);
        const there = (await statuses()).find((s) => s.appliedIndex === target);
        if (there === undefined || m.sm.appliedIndex !== target) continue;
        if (!m.sm.stateHash().equals(there.stateHash)) {
          throw new Error(`shard ${shardId} at index ${target}: state hash from Kafka ${m.sm.stateHash().toString('hex')} != node ${there.nodeId}'s ${there.stateHash.toString('hex')}`);
        }
        compared.set(shardId, target);
        break;
      }
    } finally {
      kv.close();
      await m.close();
    }
  }
  return compared;
}
