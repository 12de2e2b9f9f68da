// A shard replicated on real `weft-node` processes (WAL with fdatasync, RocksDB, Raft transport,
// KV RPC) on free loopback ports, for the process-level tests that kill and restart nodes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RemoteShardKv } from '@weft/kvrpc';
import { freePort } from './ports';
import { spawnNode, waitForHttp, type Spawned } from './process';

const NODE = 'dist/apps/node/src/main.js';

export interface NodePorts {
  readonly http: number;
  readonly metrics: number;
  readonly raft: number;
  readonly kv: number;
}

export interface NodeClusterOptions {
  /** Prefix of the temporary data directory. */
  readonly name: string;
  readonly ids?: readonly number[];
  /** Extra environment for every node (snapshot thresholds, sweep limits, log level...). */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra environment for one node (after `env`). */
  readonly nodeEnv?: (id: number) => Readonly<Record<string, string>>;
}

export class NodeCluster {
  readonly procs = new Map<number, Spawned>();
  readonly ports = new Map<number, NodePorts>();
  readonly dir: string;
  /** A client of the shard over every node (3 s per request, 15 s to find a leader). */
  kv!: RemoteShardKv;

  private constructor(private readonly opts: NodeClusterOptions) {
    this.dir = mkdtempSync(path.join(tmpdir(), `${opts.name}-`));
  }

  /** Allocates ports, starts every node, waits for their health endpoints and for a leader. */
  static async start(opts: NodeClusterOptions): Promise<NodeCluster> {
    const c = new NodeCluster(opts);
    const ids = opts.ids ?? [1, 2, 3];
    for (const id of ids) c.ports.set(id, { http: await freePort(), metrics: await freePort(), raft: await freePort(), kv: await freePort() });
    await Promise.all(ids.map((id) => c.startNode(id)));
    c.kv = new RemoteShardKv({
      shardId: 1,
      replicas: [...c.ports].map(([nodeId, p]) => ({ nodeId, host: '127.0.0.1', port: p.kv })),
      requestTimeoutMs: 3000,
      deadlineMs: 15000,
    });
    await c.leader();
    return c;
  }

  dataDir(id: number): string {
    return path.join(this.dir, `node-${id}`);
  }

  /** (Re)starts node `id` from its data directory. */
  async startNode(id: number): Promise<void> {
    const p = this.ports.get(id) as NodePorts;
    const peers = [...this.ports].map(([n, q]) => `${n}@127.0.0.1:${q.raft}`).join(',');
    const proc = spawnNode(NODE, {
      WEFT_NODE_ID: String(id),
      WEFT_DATA_DIR: this.dataDir(id),
      WEFT_HTTP_PORT: String(p.http),
      WEFT_METRICS_PORT: String(p.metrics),
      WEFT_RAFT_PORT: String(p.raft),
      WEFT_KV_PORT: String(p.kv),
      WEFT_RAFT_PEERS: peers,
      WEFT_LOG_LEVEL: 'warn',
      ...this.opts.env,
      ...this.opts.nodeEnv?.(id),
    });
    this.procs.set(id, proc);
    await waitForHttp(`http://127.0.0.1:${p.http}/health`);
  }

  /** SIGKILL: no shutdown code runs, unsynced writes are lost as in a power cut of the process. */
  async kill(id: number): Promise<void> {
    const p = this.procs.get(id) as Spawned;
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }

  /** The node that reports itself leader (polls up to 10 s). */
  async leader(): Promise<number> {
    for (let i = 0; i < 100; i++) {
      for (const id of this.procs.keys()) {
        const s = await this.kv.replicaStatus(id).catch(() => undefined);
        if (s && s.leader === s.nodeId) return s.nodeId;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no node reports itself leader');
  }

  /** Waits until the given nodes report the same applied index and state hash. */
  async converged(ids: readonly number[], ms = 20000): Promise<void> {
    const end = Date.now() + ms;
    let last = '';
    while (Date.now() < end) {
      try {
        const st = await Promise.all(ids.map((id) => this.kv.replicaStatus(id)));
        last = st.map((s) => `${s.nodeId}@${s.appliedIndex}:${s.stateHash.toString('hex').slice(0, 8)}`).join(' ');
        if (st.every((s) => s.appliedIndex === st[0].appliedIndex && s.stateHash.equals(st[0].stateHash))) return;
      } catch (e) {
        last = String(e);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`replicas did not converge: ${last}`);
  }

  async stop(): Promise<void> {
    this.kv?.close();
    await Promise.all([...this.procs.keys()].map((id) => this.kill(id)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
