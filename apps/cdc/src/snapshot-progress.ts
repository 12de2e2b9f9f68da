// A snapshot published over several Kafka transactions (decision 0043): each chunk's
// transaction commits its events and the progress group's offset on the log topic unchanged
// (the index published before the snapshot) with the offset's metadata naming the snapshot and
// how many of its events are published; the last chunk commits offset = the snapshot's index
// and clears the metadata. A restart that finds the metadata resumes the same staged snapshot
// after that many events (the events are generated deterministically from the staged state).
//
// Metadata text: `weft.cdc.snapshot <index> <events published>`.

export interface SnapshotInFlight {
  /** Applied index of the staged snapshot being published. */
  readonly index: number;
  /** How many of its events (in generation order) are committed. */
  readonly done: number;
}

const TAG = 'weft.cdc.snapshot';

export function encodeSnapshotProgress(s: SnapshotInFlight): string {
  return `${TAG} ${s.index} ${s.done}`;
}

/** The snapshot in flight an offset's metadata names; undefined for none (null, empty, another text). */
export function decodeSnapshotProgress(metadata: string | null | undefined): SnapshotInFlight | undefined {
  if (metadata === null || metadata === undefined) return undefined;
  const m = /^weft\.cdc\.snapshot (\d{1,15}) (\d{1,15})$/.exec(metadata);
  if (m === null) return undefined;
  const index = Number(m[1]);
  const done = Number(m[2]);
  return index > 0 && done > 0 ? { index, done } : undefined;
}
