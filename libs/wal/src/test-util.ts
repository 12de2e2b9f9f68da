/** Helpers shared by the WAL specs (not part of the public interface). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Entry, EntryType } from '../../raft/src/types';

export function tmpDir(prefix = 'weft-wal-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Deterministic payload, so a reader can check content without remembering it. */
export function payload(group: number, index: number, term: number, size = 32): Uint8Array {
  const b = Buffer.alloc(size);
  let x = (group * 2654435761 + index * 40503 + term * 97) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export function entry(group: number, index: number, term: number, size = 32): Entry {
  return { index, term, type: EntryType.Normal, data: payload(group, index, term, size) };
}

export function entries(group: number, lo: number, hi: number, term: number, size = 32): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(entry(group, i, term, size));
  return out;
}
