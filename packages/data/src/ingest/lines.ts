import { createReadStream } from 'node:fs';
import { DataError } from '../errors.js';

/** One line of a file, without its `\n` (and without a trailing `\r`). */
export interface Line {
  readonly text: string;
  /** Zero-based line index. */
  readonly index: number;
  /** Byte offset of the line's first byte. */
  readonly offset: number;
}

const strict = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 decode that throws a {@link DataError} with the byte offset of the first invalid sequence. */
export function decodeUtf8(file: string, bytes: Uint8Array, baseOffset: number, record?: number): string {
  try {
    return strict.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw new DataError(
      'bad-input',
      { file, offset: baseOffset + at, ...(record !== undefined ? { record } : {}) },
      'invalid UTF-8',
    );
  }
}

/** Index of the first byte that starts an invalid UTF-8 sequence (bytes.length if valid). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const n =
      b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (n === 0 || i + n > bytes.length) return i;
    for (let k = 1; k < n; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    const b1 = bytes[i + 1]!;
    // Overlong and surrogate / out-of-range forms.
    if (
      (b === 0xe0 && b1 < 0xa0) ||
      (b === 0xed && b1 > 0x9f) ||
      (b === 0xf0 && b1 < 0x90) ||
      (b === 0xf4 && b1 > 0x8f)
    )
      return i;
    i += n;
  }
  return bytes.length;
}

/**
 * Streams a file's lines with their byte offsets, in constant memory (plus the longest line).
 * Invalid UTF-8 throws a {@link DataError} naming the line and byte offset.
 */
export async function* readLines(file: string): AsyncGenerator<Line> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineStart = 0; // byte offset of the current (pending) line
  let index = 0;
  const emit = (bytes: Uint8Array): Line => {
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    const line = {
      text: decodeUtf8(file, bytes.subarray(0, end), lineStart, index),
      index,
      offset: lineStart,
    };
    lineStart += bytes.length + 1;
    index++;
    return line;
  };
  for await (const raw of createReadStream(file, { highWaterMark: 1 << 20 })) {
    const chunk = raw as Buffer;
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      if (nl < 0) break;
      const piece = chunk.subarray(from, nl);
      if (pendingBytes > 0) {
        pending.push(piece);
        yield emit(Buffer.concat(pending, pendingBytes + piece.length));
        pending = [];
        pendingBytes = 0;
      } else yield emit(piece);
      from = nl + 1;
    }
    if (from < chunk.length) {
      pending.push(chunk.subarray(from));
      pendingBytes += chunk.length - from;
    }
  }
  if (pendingBytes > 0) yield emit(Buffer.concat(pending, pendingBytes));
}
