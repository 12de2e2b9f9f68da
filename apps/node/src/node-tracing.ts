import { context, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { TracedRead } from '@weft/kvrpc';
import type { NodeHostObserver } from '@weft/nodehost';
import { contextFromTraceparent } from '@weft/telemetry';

/** Proposals waiting for their apply, per shard; bounded against leaks (lost proposals). */
const MAX_PENDING = 10_000;

interface Proposed {
  readonly ctx: Context;
  /** Epoch milliseconds (span times). */
  readonly at: number;
}

/**
 * Continues a write's trace on the node (decision 0030): the KV RPC's proposal handling runs in a
 * `kv.propose` span whose parent is the gateway's statement span (its traceparent came with the
 * request); the entry's log index is tied to that span when the replica proposes it, and when the
 * entry applies here the node records `raft.commit` (proposal → committed and ready to apply) and
 * `replica.apply` (the apply of the batch holding it). Only sampled requests cost anything.
 */
export class NodeTracing {
  private readonly tracer = trace.getTracer('weft-node');
  private readonly pending = new Map<number, Map<number, Proposed>>();

  constructor(private readonly nodeId: number) {}

  /** Runs `run` in a server span named `name` whose parent is the caller's traceparent. */
  private serverSpan<T>(name: string, shardId: number, traceparent: string, run: () => Promise<T>): Promise<T> {
    const parent = contextFromTraceparent(traceparent);
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: { 'weft.shard': shardId, 'weft.node': this.nodeId } }, parent);
    if (!span.isRecording()) return run();
    return context.with(trace.setSpan(parent, span), run).then(
      (v) => {
        span.end();
        return v;
      },
      (e: unknown) => {
        span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : 'failed' });
        span.end();
        throw e;
      },
    );
  }

  readonly observer: Pick<NodeHostObserver, 'traceProposal' | 'traceRead' | 'onPropose' | 'onApply'> = {
    traceProposal: <T>(shardId: number, traceparent: string | undefined, run: () => Promise<T>): Promise<T> =>
      traceparent ? this.serverSpan('kv.propose', shardId, traceparent, run) : run(),
    // A read's span (`kv.get`, `kv.scan`, `kv.get_now`, `kv.lock_read`) covers waiting for the
    // read's timestamp to be safe (lease, ReadIndex, a lock in line) and the MVCC read.
    traceRead: <T>(kind: TracedRead, shardId: number, traceparent: string, run: () => Promise<T>): Promise<T> => this.serverSpan(`kv.${kind}`, shardId, traceparent, run),
    onPropose: (shardId, index) => {
      const span = trace.getActiveSpan();
      if (!span?.isRecording()) return;
      let m = this.pending.get(shardId);
      if (!m) {
        m = new Map<number, Proposed>();
        this.pending.set(shardId, m);
      }
      if (m.size >= MAX_PENDING) m.clear();
      m.set(index, { ctx: context.active(), at: Date.now() });
    },
    onApply: (shardId, first, last) => {
      const m = this.pending.get(shardId);
      if (!m || m.size === 0) return undefined;
      const now = Date.now();
      const applying: Span[] = [];
      for (const [index, p] of m) {
        // Below the batch: a proposal that never committed as ours (a lost leadership).
        if (index < first) m.delete(index);
        if (index < first || index > last) continue;
        m.delete(index);
        this.tracer.startSpan('raft.commit', { startTime: p.at, attributes: { 'weft.shard': shardId, 'weft.index': index } }, p.ctx).end(now);
        applying.push(this.tracer.startSpan('replica.apply', { startTime: now, attributes: { 'weft.shard': shardId, 'weft.index': index, 'weft.batch_entries': last - first + 1 } }, p.ctx));
      }
      if (applying.length === 0) return undefined;
      return () => {
        for (const s of applying) s.end();
      };
    },
  };
}
