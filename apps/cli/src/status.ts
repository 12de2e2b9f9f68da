import path from 'node:path';
import { checkHealth, getJson } from './health';
import { DEFAULT_PG_PORT, devCluster, type DevService } from './dev-cluster';
import { readState, statePath } from './state';

export interface StatusOptions {
  readonly dataDir: string;
  /** An explicit --port wins over the state file the demo wrote into dataDir. */
  readonly pgPort?: number;
}

/** A service's GET /status (libs/service HealthController), as far as status prints it. */
interface ServiceStatus {
  readonly ready: boolean;
  readonly reasons: readonly string[];
  readonly details: { readonly shards?: readonly NodeShard[] };
  readonly recentErrors: readonly { time: string; level: string; msg: string; shard?: number; err?: string }[];
}

/** One shard as a node reports it in its /status details (apps/node NodeReadiness). */
interface NodeShard {
  readonly shard: number;
  readonly leader: number;
  readonly appliedIndex: number;
  readonly lagSeconds: number | null;
  readonly stopped: string | null;
}

function asStatus(v: unknown): ServiceStatus | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const s = v as Partial<ServiceStatus>;
  if (typeof s.ready !== 'boolean' || !Array.isArray(s.reasons)) return undefined;
  return { ready: s.ready, reasons: s.reasons, details: s.details ?? {}, recentErrors: Array.isArray(s.recentErrors) ? s.recentErrors : [] };
}

/**
 * Prints one screen about a dev cluster: each service's liveness, readiness (with the reasons
 * when not ready) and pid; a table of shards with their leaseholder and, per node, the applied
 * index and replication lag; and the last errors the services logged. Returns the exit code: 0
 * when every service is up (readiness is shown, not judged: a restarted node catching up is up).
 * The ports come from --port, else from the demo's state file in the data directory, else the
 * defaults.
 */
export async function runStatus(opts: StatusOptions): Promise<number> {
  const dataDir = path.resolve(opts.dataDir);
  const state = readState(dataDir);
  const pgPort = opts.pgPort ?? state?.pgPort ?? DEFAULT_PG_PORT;
  const source = opts.pgPort !== undefined ? '--port' : state ? statePath(dataDir) : 'the default port';
  const out: string[] = [`weft demo on Postgres port ${pgPort} (from ${source})`];
  const services = devCluster({ dataDir, pgPort, kafkaBrokers: '127.0.0.1:9092', host: '127.0.0.1' });
  const pids = new Map(state && state.pgPort === pgPort && state.running ? state.services.map((s) => [s.name, s.pid]) : []);
  const live = await Promise.all(services.map((s) => checkHealth('127.0.0.1', s.httpPort)));
  const status = await Promise.all(services.map(async (s, i) => (live[i] ? asStatus(await getJson('127.0.0.1', s.httpPort, '/status')) : undefined)));

  services.forEach((s, i) => {
    const ready = !live[i] ? '-' : status[i]?.ready ? 'ready' : 'not-ready';
    const pid = pids.get(s.name);
    out.push(`${s.name.padEnd(8)} ${(live[i] ? 'up' : 'down').padEnd(5)} ${ready.padEnd(10)} pid ${String(pid ?? '-').padEnd(7)} http://127.0.0.1:${s.httpPort}/health`);
    for (const r of status[i]?.reasons ?? []) out.push(`    ${r}`);
  });

  out.push('', ...shardTable(services, status));
  const errors = services.flatMap((s, i) => (status[i]?.recentErrors ?? []).slice(-3).map((e) => ({ service: s.name, ...e })));
  errors.sort((a, b) => a.time.localeCompare(b.time));
  out.push('', errors.length ? 'last errors:' : 'last errors: none');
  for (const e of errors.slice(-8)) {
    out.push(`  ${e.time.slice(11, 19)} ${e.service.padEnd(8)} ${e.level.padEnd(5)} ${e.shard !== undefined ? `shard ${e.shard}: ` : ''}${e.msg}${e.err ? ` (${e.err})` : ''}`);
  }
  process.stdout.write(out.join('\n') + '\n');
  return live.every(Boolean) ? 0 : 1;
}

/** shard | leaseholder | per node: applied index and lag, or STOPPED / down. */
function shardTable(services: readonly DevService[], status: readonly (ServiceStatus | undefined)[]): string[] {
  const nodes = services.map((s, i) => ({ name: s.name, st: status[i] })).filter((n) => n.name.startsWith('node-'));
  const byShard = new Map<number, Map<string, NodeShard>>();
  for (const n of nodes) for (const sh of n.st?.details.shards ?? []) {
    if (!byShard.has(sh.shard)) byShard.set(sh.shard, new Map());
    byShard.get(sh.shard)?.set(n.name, sh);
  }
  if (byShard.size === 0) return ['shards: no node answered'];
  const col = 24;
  const lines = [`${'shard'.padEnd(6)} ${'leader'.padEnd(8)} ${nodes.map((n) => n.name.padEnd(col)).join(' ')}`.trimEnd()];
  for (const [shard, reps] of [...byShard].sort((a, b) => a[0] - b[0])) {
    // The leader most replicas name.
    const votes = new Map<number, number>();
    for (const r of reps.values()) if (r.leader) votes.set(r.leader, (votes.get(r.leader) ?? 0) + 1);
    const leader = [...votes].sort((a, b) => b[1] - a[1])[0]?.[0];
    const cells = nodes.map((n) => {
      const r = reps.get(n.name);
      if (!n.st) return 'down';
      if (!r) return '-';
      if (r.stopped) return 'STOPPED';
      return `applied ${r.appliedIndex} lag ${r.lagSeconds === null ? '?' : `${r.lagSeconds}s`}`;
    });
    lines.push(`${String(shard).padEnd(6)} ${(leader ? `node-${leader}` : 'none').padEnd(8)} ${cells.map((c) => c.padEnd(col)).join(' ')}`.trimEnd());
  }
  return lines;
}
