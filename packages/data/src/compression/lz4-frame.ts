import { CompressionType, compressionRegistry } from 'apache-arrow';

const FRAME_MAGIC = 0x184d2204;

/**
 * Decodes LZ4 frame data (the format of Arrow IPC's `LZ4_FRAME` buffer compression, which is
 * pyarrow's Feather default). Handles dependent and independent blocks, uncompressed blocks,
 * optional content size / dictionary id / checksums (checksums are skipped, not verified:
 * shard integrity is the manifest's SHA-256's job) and concatenated frames.
 * Throws `Error` on malformed input, naming the byte offset.
 */
export function decodeLz4Frame(input: Uint8Array): Uint8Array {
  let out = new Uint8Array(Math.max(64, input.length * 4));
  let n = 0;
  const ensure = (extra: number) => {
    if (n + extra <= out.length) return;
    const grown = new Uint8Array(Math.max(out.length * 2, n + extra));
    grown.set(out.subarray(0, n));
    out = grown;
  };
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const fail = (at: number, why: string): never => {
    throw new Error(`LZ4 frame: ${why} at byte ${at}`);
  };
  let p = 0;
  while (p < input.length) {
    if (p + 7 > input.length) fail(p, 'truncated frame header');
    const magic = view.getUint32(p, true);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      p += 8 + view.getUint32(p + 4, true); // skippable frame
      continue;
    }
    if (magic !== FRAME_MAGIC) fail(p, `bad magic 0x${magic.toString(16)}`);
    const flg = input[p + 4]!;
    if (flg >> 6 !== 1) fail(p + 4, 'unsupported version');
    const blockChecksum = (flg & 0x10) !== 0;
    const contentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const dictId = (flg & 0x01) !== 0;
    p += 6 + (contentSize ? 8 : 0) + (dictId ? 4 : 0) + 1; // magic, FLG, BD, [size], [dict], HC
    for (;;) {
      if (p + 4 > input.length) fail(p, 'truncated block header');
      const word = view.getUint32(p, true);
      p += 4;
      if (word === 0) break; // end mark
      const size = word & 0x7fffffff;
      if (p + size > input.length) fail(p, 'block runs past the end');
      if (word & 0x80000000) {
        ensure(size);
        out.set(input.subarray(p, p + size), n);
        n += size;
      } else {
        n = decodeBlock(input, p, p + size, () => out, ensure, n, fail);
      }
      p += size + (blockChecksum ? 4 : 0);
    }
    if (contentChecksum) p += 4;
  }
  return out.slice(0, n);
}

/** One LZ4 block: sequences of literals then (offset, match) copies; returns the new output length. */
function decodeBlock(
  input: Uint8Array,
  p: number,
  end: number,
  out: () => Uint8Array,
  ensure: (extra: number) => void,
  n: number,
  fail: (at: number, why: string) => never,
): number {
  while (p < end) {
    const token = input[p++]!;
    let literals = token >> 4;
    if (literals === 15) {
      let b: number;
      do {
        if (p >= end) fail(p, 'truncated literal length');
        b = input[p++]!;
        literals += b;
      } while (b === 255);
    }
    if (p + literals > end) fail(p, 'literals run past the block');
    ensure(literals);
    out().set(input.subarray(p, p + literals), n);
    n += literals;
    p += literals;
    if (p >= end) break; // the last sequence has no match
    if (p + 2 > end) fail(p, 'truncated match offset');
    const offset = input[p]! | (input[p + 1]! << 8);
    p += 2;
    if (offset === 0 || offset > n) fail(p - 2, `match offset ${offset} outside the ${n} decoded bytes`);
    let length = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do {
        if (p >= end) fail(p, 'truncated match length');
        b = input[p++]!;
        length += b;
      } while (b === 255);
    }
    ensure(length);
    const o = out();
    // Byte by byte: matches may overlap their own output (offset < length).
    for (let i = 0; i < length; i++, n++) o[n] = o[n - offset]!;
  }
  return n;
}

/**
 * Lets apache-arrow read LZ4-compressed IPC buffers (pyarrow's default for Feather v2) with
 * {@link decodeLz4Frame}. Keeps a codec the application registered itself. ZSTD is not provided.
 */
export function registerArrowCodecs(): void {
  if (compressionRegistry.get(CompressionType.LZ4_FRAME) === null) {
    compressionRegistry.set(CompressionType.LZ4_FRAME, { decode: decodeLz4Frame });
  }
}
