import { ConfChange, ConfChangeSingle, ConfChangeType } from './types';

/**
 * Binary encoding of a ConfChange inside an EntryType.ConfChange entry. The core must both
 * write (proposeConfChange, auto-leave) and read (pending-change checks) these, so the
 * format lives here rather than in the transport codec.
 *
 * Layout: u8 version(1) | u8 flags (bit0 joint, bit1 autoLeave present, bit2 autoLeave)
 *         | u32 count | count × (u8 type | f64 replicaId)
 */
const VERSION = 1;

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const buf = new Uint8Array(6 + cc.changes.length * 9);
  const dv = new DataView(buf.buffer);
  let flags = cc.joint ? 1 : 0;
  if (cc.autoLeave !== undefined) flags |= 2 | (cc.autoLeave ? 4 : 0);
  dv.setUint8(0, VERSION);
  dv.setUint8(1, flags);
  dv.setUint32(2, cc.changes.length);
  let off = 6;
  for (const c of cc.changes) {
    dv.setUint8(off, c.type);
    dv.setFloat64(off + 1, c.replicaId);
    off += 9;
  }
  return buf;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  // An empty payload is the leave-joint change (an empty ConfChange), as etcd's zero value.
  if (data.length === 0) return { changes: [], joint: false };
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < 6 || dv.getUint8(0) !== VERSION) throw new Error('raft: malformed ConfChange entry');
  const flags = dv.getUint8(1);
  const n = dv.getUint32(2);
  if (data.length !== 6 + n * 9) throw new Error('raft: malformed ConfChange entry (length)');
  const changes: ConfChangeSingle[] = [];
  let off = 6;
  for (let i = 0; i < n; i++) {
    const type = dv.getUint8(off) as ConfChangeType;
    if (!(type in ConfChangeType)) throw new Error(`raft: unknown ConfChange type ${type}`);
    changes.push({ type, replicaId: dv.getFloat64(off + 1) });
    off += 9;
  }
  const cc: ConfChange = { changes, joint: (flags & 1) !== 0 };
  return flags & 2 ? { ...cc, autoLeave: (flags & 4) !== 0 } : cc;
}
