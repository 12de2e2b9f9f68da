// Checks this node's clock against its peers' (decision 0057). Uncertainty intervals (decision
// 0055) and a new leader's timestamp head start (0013) are only correct while every two clocks
// are within the cluster's max offset; nothing else enforces that. Each node pings its peers'
// clocks over the Raft connections (RaftTransport.pingClocks) and keeps the latest reading per
// peer. A node whose clock is off from MOST of the peers it measured is the one that is wrong
// (one bad peer shows up as off from a minority only), and it must stop serving before it
// stamps a commit or serves a read outside the bound: its owner fences it (the node process
// exits, as CockroachDB's does).
import type { ClockReading, NodeId } from '@weft/transport';

export interface ClockMonitorOptions {
  /** The offset between two clocks the cluster tolerates (the replicas' maxClockOffsetUs). */
  readonly maxOffsetUs: number;
  /**
   * A peer counts as off once its offset is certainly beyond this fraction of the max (default
   * 0.8): the node stops while clocks are still inside the bound, not after.
   */
  readonly toleratedFraction?: number;
  /** Readings older than this are not counted (default 10 s): a peer not heard from lately is not measured. */
  readonly staleAfterUs?: number;
  /** Consecutive unhealthy checks before the verdict is final (default 3): one odd reading is not enough. */
  readonly checksToFence?: number;
}

export interface PeerOffset {
  readonly peer: NodeId;
  readonly offsetUs: number;
  readonly rttUs: number;
}

export interface ClockVerdict {
  /** Peers with a fresh reading. */
  readonly measured: number;
  /** Those whose clock is certainly further from ours than tolerated. */
  readonly off: readonly PeerOffset[];
  /** Off from a majority of the measured peers, in `checksToFence` checks in a row. */
  readonly fence: boolean;
  /** Set when fencing: what to log and why. */
  readonly reason?: string;
}

export class ClockMonitor {
  private readonly readings = new Map<NodeId, ClockReading>();
  private readonly tolerated: number;
  private readonly staleAfterUs: number;
  private readonly checksToFence: number;
  private unhealthyChecks = 0;

  constructor(private readonly o: ClockMonitorOptions) {
    this.tolerated = o.maxOffsetUs * (o.toleratedFraction ?? 0.8);
    this.staleAfterUs = o.staleAfterUs ?? 10_000_000;
    this.checksToFence = o.checksToFence ?? 3;
  }

  record(peer: NodeId, reading: ClockReading): void {
    this.readings.set(peer, reading);
  }

  forget(peer: NodeId): void {
    this.readings.delete(peer);
  }

  /** Every fresh reading, for status pages and metrics. */
  offsets(nowUs: number): PeerOffset[] {
    const out: PeerOffset[] = [];
    for (const [peer, r] of this.readings) if (nowUs - r.atUs <= this.staleAfterUs) out.push({ peer, offsetUs: r.offsetUs, rttUs: r.rttUs });
    return out.sort((a, b) => a.peer - b.peer);
  }

  /** One periodic check. The peer read its clock somewhere inside the round trip: only an offset beyond the tolerance by more than half the round trip is certain. */
  check(nowUs: number): ClockVerdict {
    const fresh = this.offsets(nowUs);
    const off = fresh.filter((p) => Math.abs(p.offsetUs) - p.rttUs / 2 > this.tolerated);
    const unhealthy = fresh.length > 0 && off.length * 2 > fresh.length;
    this.unhealthyChecks = unhealthy ? this.unhealthyChecks + 1 : 0;
    if (this.unhealthyChecks < this.checksToFence) return { measured: fresh.length, off, fence: false };
    const list = off.map((p) => `node ${p.peer} ${p.offsetUs > 0 ? '+' : ''}${(p.offsetUs / 1000).toFixed(1)} ms (round trip ${(p.rttUs / 1000).toFixed(1)} ms)`).join(', ');
    return {
      measured: fresh.length,
      off,
      fence: true,
      reason: `this node's clock is off from ${off.length} of the ${fresh.length} peers it measured by more than ${(this.tolerated / 1000).toFixed(0)} ms (${Math.round((this.o.toleratedFraction ?? 0.8) * 100)} % of the ${(this.o.maxOffsetUs / 1000).toFixed(0)} ms max offset), in ${this.unhealthyChecks} checks in a row: ${list}. Fix the clock (NTP) before restarting it.`,
    };
  }
}
