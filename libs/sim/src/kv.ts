/**
 * The replicated key-value state machine the simulator runs on top of Raft, and its command
 * encoding. Commands carry a request id and the state machine ignores an id it has already
 * applied: the network may duplicate a forwarded proposal, and without deduplication a replayed
 * put would resurrect an old value — a real bug class, but the application's, not Raft's.
 */
import { KvInput } from './linearizability';

export interface KvCommand {
  /** Unique per client operation. */
  readonly id: string;
  readonly input: KvInput;
}

export type KvResult = { readonly value: string | undefined } | { readonly swapped: boolean } | { readonly done: true };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** JSON is fine here: the simulator is not the data path, and readable traces matter more. */
export function encodeCommand(c: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify(c));
}

export function decodeCommand(data: Uint8Array): KvCommand | undefined {
  if (data.length === 0 || data[0] !== 0x7b /* { */) return undefined;
  const parsed = JSON.parse(dec.decode(data)) as KvCommand;
  return parsed;
}

export function encodeText(s: string): Uint8Array {
  return enc.encode(s);
}

export function decodeText(b: Uint8Array): string {
  return dec.decode(b);
}

export class KvStateMachine {
  private readonly data = new Map<string, string>();
  private readonly seen = new Map<string, KvResult>();

  /** The whole state (data and dedup table), for Raft snapshots. */
  serialize(): Uint8Array {
    return enc.encode(JSON.stringify({ data: [...this.data], seen: [...this.seen] }));
  }

  static restore(bytes: Uint8Array): KvStateMachine {
    const kv = new KvStateMachine();
    if (bytes.length === 0) return kv;
    const parsed = JSON.parse(dec.decode(bytes)) as { data: [string, string][]; seen: [string, KvResult][] };
    for (const [k, v] of parsed.data) kv.data.set(k, v);
    for (const [k, v] of parsed.seen) kv.seen.set(k, v);
    return kv;
  }

  get(key: string): string | undefined {
    return this.data.get(key);
  }

  /** Applies a command; a duplicate gets the first application's result and changes nothing. */
  apply(c: KvCommand): KvResult {
    const prior = this.seen.get(c.id);
    if (prior !== undefined) return prior;
    const inp = c.input;
    let res: KvResult;
    switch (inp.op) {
      case 'put':
        this.data.set(inp.key, inp.value);
        res = { done: true };
        break;
      case 'get':
        res = { value: this.data.get(inp.key) };
        break;
      case 'cas': {
        const ok = this.data.get(inp.key) === inp.expected;
        if (ok) this.data.set(inp.key, inp.value);
        res = { swapped: ok };
        break;
      }
    }
    this.seen.set(c.id, res);
    return res;
  }
}
