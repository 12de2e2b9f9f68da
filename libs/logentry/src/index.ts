// @weft/logentry: the versioned binary schema of shard log entries.
export type * from './types';
