import type { ApplyOutcome, LogEntry } from '@weft/logentry';

/** At most this many transactions per `forget` entry (16-byte ids: about 9 KiB). */
const MAX_BATCH = 512;
/** A batch is proposed at most this many times. */
const MAX_TRIES = 3;

/**
 * Collects, per shard, the transactions whose every participant has applied its resolve, and
 * proposes them as one `forget` entry per shard after a short delay (decision 0054): their
 * resolved markers can go, and one small entry per shard per delay costs far less than one per
 * transaction. Best effort: a lost batch only leaves markers behind, as a coordinator crash does.
 */
export class ForgetQueue {
  private readonly pending = new Map<number, { readonly ids: Buffer[]; tries: number }>();
  private scheduled: Promise<void> | undefined;

  constructor(
    private readonly propose: (shard: number, entry: LogEntry) => Promise<ApplyOutcome>,
    private readonly wait: (ms: number) => Promise<void>,
    private readonly delayMs: number,
  ) {}

  /** Queues `txnId` for forgetting on each of `shards`. */
  add(shards: readonly number[], txnId: Buffer): void {
    let full = false;
    for (const shard of shards) full = this.queue(shard, [txnId], 0) || full;
    if (full) void this.flush();
    else this.schedule();
  }

  /**
   * Proposes everything queued now; resolves when every proposal has settled. A batch whose
   * proposal failed (no leader during a failover) is queued again, up to MAX_TRIES times:
   * forgetting twice is the same as once.
   */
  async flush(): Promise<void> {
    this.scheduled = undefined;
    const batches = [...this.pending];
    this.pending.clear();
    let retry = false;
    await Promise.all(
      batches.flatMap(([shard, { ids, tries }]) => {
        const out: Promise<void>[] = [];
        for (let i = 0; i < ids.length; i += MAX_BATCH) {
          const part = ids.slice(i, i + MAX_BATCH);
          out.push(
            this.propose(shard, { type: 'forget', txnIds: part }).then(
              () => undefined,
              () => {
                if (tries + 1 >= MAX_TRIES) return;
                this.queue(shard, part, tries + 1);
                retry = true;
              },
            ),
          );
        }
        return out;
      }),
    );
    if (retry) this.schedule();
  }

  /** Transactions queued and not yet proposed (tests, stats). */
  get size(): number {
    let n = 0;
    for (const { ids } of this.pending.values()) n += ids.length;
    return n;
  }

  /** Whether the shard's batch is full. */
  private queue(shard: number, ids: readonly Buffer[], tries: number): boolean {
    let batch = this.pending.get(shard);
    if (batch === undefined) this.pending.set(shard, (batch = { ids: [], tries }));
    batch.ids.push(...ids);
    batch.tries = Math.max(batch.tries, tries);
    return batch.ids.length >= MAX_BATCH;
  }

  private schedule(): void {
    this.scheduled ??= this.wait(this.delayMs).then(() => this.flush());
  }
}
