import { KvError } from '@weft/kv';

/**
 * This meta replica does not lead the meta group. `leaderHint` is the meta id of the leader it
 * knows of (0: none known); MetaClient retries there. Code 'not-leader' as in @weft/kv.
 */
export class MetaNotLeaderError extends KvError {
  constructor(
    readonly metaId: number,
    readonly leaderHint: number,
  ) {
    super('not-leader', leaderHint ? `meta ${metaId} is not the meta leader; meta ${leaderHint} is` : `meta ${metaId} is not the meta leader and knows of none`);
    this.name = 'MetaNotLeaderError';
  }
}

/** Meta cannot answer with certainty (no quorum, no leader, timed out): 57P03 at the SQL edge. */
export function metaUnavailable(message: string): KvError {
  return new KvError('unavailable', `meta service unavailable: ${message}`);
}
