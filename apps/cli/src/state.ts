import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What a running (or last run) demo wrote into its data directory, so `weft status --data DIR`
 * finds a demo started with any --port, and tests and operators find each service's pid
 * (e.g. to kill -9 one node).
 */
export interface DemoState {
  /** The `weft demo` supervisor's own pid. */
  readonly pid: number;
  /** False once the demo has stopped (the pids below are then stale). */
  readonly running: boolean;
  readonly pgPort: number;
  readonly shardCount: number;
  readonly services: readonly DemoServiceState[];
}

export interface DemoServiceState {
  readonly name: string;
  /** Pid of the current process, null while it is down (between a crash and its restart). */
  readonly pid: number | null;
  readonly httpPort: number;
  readonly ports: Readonly<Record<string, number>>;
  /** How often the demo has restarted it after an unexpected exit. */
  readonly restarts: number;
}

export const STATE_FILE = 'weft-demo.json';

export const statePath = (dataDir: string): string => path.join(dataDir, STATE_FILE);

/** Writes the state atomically (rename), so a reader never sees half a file. */
export function writeState(dataDir: string, state: DemoState): void {
  const file = statePath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, file);
}

/** The state a demo left in dataDir, or null if there is none (or it is unreadable). */
export function readState(dataDir: string): DemoState | null {
  let raw: string;
  try {
    raw = readFileSync(statePath(dataDir), 'utf8');
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(raw) as Partial<DemoState>;
    if (typeof s.pgPort !== 'number' || !Array.isArray(s.services)) return null;
    return s as DemoState;
  } catch {
    return null;
  }
}

/** True if a process with this pid exists (signal 0 checks without sending anything). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
