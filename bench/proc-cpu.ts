// CPU time of a process tree by role, from /proc (Linux): what each service spent during a
// benchmark run. A process's own time plus the time of children it has reaped (so PostgreSQL's
// per-connection backends, which exit with their client, are still counted in the postmaster).
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux everywhere). */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in ticks. */
  readonly ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined; // exited meanwhile
  }
}

function roleOf(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    const app = /apps\/(\w+)\/src\/main\.js/.exec(cmd)?.[1];
    if (app === 'cli') return 'demo supervisor';
    if (app !== undefined) return app;
    if (/postgres|postmaster/.test(cmd)) return 'postgres';
    return 'other';
  } catch {
    return 'other';
  }
}

/** Milliseconds of CPU per role in the tree under `root` (root included). */
export function cpuMsByRole(root: number): Map<string, number> {
  const stats = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st) stats.set(st.pid, st);
  }
  const children = new Map<number, number[]>();
  for (const st of stats.values()) children.set(st.ppid, [...(children.get(st.ppid) ?? []), st.pid]);
  const out = new Map<string, number>();
  const visit = (pid: number): void => {
    const st = stats.get(pid);
    if (st === undefined) return;
    const role = roleOf(pid);
    out.set(role, (out.get(role) ?? 0) + (st.ticks * 1000) / TICKS_PER_SECOND);
    for (const c of children.get(pid) ?? []) visit(c);
  };
  visit(root);
  return out;
}

/** after - before, per role. */
export function cpuDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [role, ms] of after) out.set(role, ms - (before.get(role) ?? 0));
  return out;
}

/** The postmaster's pid from its data directory's postmaster.pid (first line). */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
