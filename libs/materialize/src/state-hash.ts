// Incremental, order-independent hash of a replica's state: the sum modulo 2^256 of
// SHA-256(u32be(len(key)) || key || value) over every physical entry the state consists of (MVCC
// versions, tombstones, intents, and the hashed local keys: prepared-transaction records and
// schema markers). Adding or removing one entry is one digest and one 256-bit add/subtract, so
// it is maintained inside every apply batch; a full scan recomputes it from scratch.
//
// Why a sum and not XOR: XOR cancels pairs, so two copies of a corrupt entry, or the same entry
// deleted twice, would be invisible. Modular addition does not cancel, and finding a different
// set of entries with the same sum (a generalized-birthday attack on AdHash) is far beyond what
// accidental divergence or a bit flip can do, which is what this hash is for. The key length
// prefix keeps (key, value) boundaries unambiguous.

import { hash } from 'node:crypto';

export const STATE_HASH_BYTES = 32;

/** The digest one physical (key, value) entry contributes. */
export function entryDigest(key: Uint8Array, value: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(4 + key.length + value.length);
  buf.writeUInt32BE(key.length, 0);
  buf.set(key, 4);
  buf.set(value, 4 + key.length);
  return hash('sha256', buf, 'buffer');
}

/** A 256-bit accumulator, big-endian, as eight 32-bit limbs. */
export class StateHash {
  private readonly limbs = new Uint32Array(8);

  static from(bytes: Uint8Array): StateHash {
    if (bytes.length !== STATE_HASH_BYTES) throw new RangeError(`state hash must be ${STATE_HASH_BYTES} bytes, got ${bytes.length}`);
    const h = new StateHash();
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < 8; i++) h.limbs[i] = b.readUInt32BE(i * 4);
    return h;
  }

  clone(): StateHash {
    const h = new StateHash();
    h.limbs.set(this.limbs);
    return h;
  }

  addEntry(key: Uint8Array, value: Uint8Array): void {
    this.addDigest(entryDigest(key, value));
  }

  removeEntry(key: Uint8Array, value: Uint8Array): void {
    this.subDigest(entryDigest(key, value));
  }

  addDigest(d: Buffer): void {
    let carry = 0;
    for (let i = 7; i >= 0; i--) {
      const s = this.limbs[i] + d.readUInt32BE(i * 4) + carry;
      this.limbs[i] = s >>> 0;
      carry = s > 0xffffffff ? 1 : 0;
    }
  }

  subDigest(d: Buffer): void {
    let borrow = 0;
    for (let i = 7; i >= 0; i--) {
      const s = this.limbs[i] - d.readUInt32BE(i * 4) - borrow;
      this.limbs[i] = s >>> 0;
      borrow = s < 0 ? 1 : 0;
    }
  }

  bytes(): Buffer {
    const out = Buffer.allocUnsafe(STATE_HASH_BYTES);
    for (let i = 0; i < 8; i++) out.writeUInt32BE(this.limbs[i], i * 4);
    return out;
  }
}
