import * as zlib from 'node:zlib';

/**
 * CRC-32 (IEEE 802.3, the zlib polynomial) over a record payload.
 *
 * Node >= 20.15 ships a native `zlib.crc32`; older 20.x releases do not, so a table-driven
 * fallback with the same polynomial is kept. Both produce identical values, so a WAL written
 * under one runtime reads back under the other.
 */
type Crc32Fn = (data: Uint8Array, value?: number) => number;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Table-driven CRC-32; exported so a test can prove it agrees with the native one. */
export function crc32Portable(data: Uint8Array, value = 0): number {
  let c = (value ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native = (zlib as unknown as { crc32?: Crc32Fn }).crc32;

export const crc32: Crc32Fn = typeof native === 'function' ? native : crc32Portable;
export const crc32IsNative = typeof native === 'function';
