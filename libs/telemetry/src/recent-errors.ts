/** One warning or error a service logged, kept for `weft status` and /status. */
export interface RecentError {
  readonly time: string;
  readonly level: 'warn' | 'error' | 'fatal';
  readonly msg: string;
  /** The shard the line was about, when it named one. */
  readonly shard?: number;
  readonly err?: string;
}

const KEEP = 20;
const ring: RecentError[] = [];

/** Records a logged warning/error (called by the logger's hook; bounded, oldest dropped). */
export function noteRecentError(e: RecentError): void {
  ring.push(e);
  if (ring.length > KEEP) ring.shift();
}

/** The last warnings and errors this process logged, newest last. */
export function recentErrors(): readonly RecentError[] {
  return [...ring];
}
