import { f16BitsToF32, f32ToF16Bits } from '@dynconv/tensor';

/**
 * The safetensors format, pure and browser-safe:
 *
 *   [8 bytes: header length N, u64 little-endian]
 *   [N bytes: JSON header, space-padded so the data starts 8-byte aligned]
 *   [data: the tensors' little-endian bytes, back to back]
 *
 * The header maps each tensor name to `{ dtype, shape, data_offsets: [begin, end] }`
 * (offsets relative to the start of the data), plus an optional
 * `__metadata__` string → string map.
 */

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES: Record<SafetensorsDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Decoded values: floats widen to Float32Array (F16/BF16) or stay Float64Array; integers as their typed array. */
export type SafetensorsValues =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/**
 * One tensor. To encode, `data` is either its raw little-endian bytes (a
 * `Uint8Array` of exactly numel × itemsize bytes) or numbers converted to
 * `dtype` (F16/BF16 round to nearest even). Decoding yields numbers (see
 * `SafetensorsValues`).
 */
export interface SafetensorsEntry<D = ArrayLike<number>> {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: D;
}

export interface SafetensorsFile {
  readonly tensors: Map<string, SafetensorsEntry<SafetensorsValues>>;
  readonly metadata: Record<string, string>;
}

/** A malformed safetensors file: names the file (or buffer) and the byte offset of the problem. */
export class SafetensorsError extends Error {
  constructor(
    readonly source: string,
    readonly offset: number,
    detail: string,
  ) {
    super(`${source}: invalid safetensors at byte ${offset}: ${detail}`);
    this.name = 'SafetensorsError';
  }
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** f32 → bf16 bits, round to nearest even (NaN stays NaN). */
const f32ToBf16Bits = (v: number): number => {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0]!;
  if (Number.isNaN(v)) return 0x7fc0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
};
const bf16BitsToF32 = (bits: number): number => new Float32Array(new Uint32Array([bits << 16]).buffer)[0]!;

function encodeValues(name: string, e: SafetensorsEntry): Uint8Array {
  const n = numel(e.shape);
  const size = n * BYTES[e.dtype];
  if (e.data instanceof Uint8Array && e.dtype !== 'U8' && e.dtype !== 'BOOL') {
    if (e.data.length !== size)
      throw new Error(
        `encodeSafetensors: '${name}' has ${e.data.length} bytes, ${e.dtype}[${e.shape.join(', ')}] needs ${size}`,
      );
    return e.data;
  }
  if (e.data.length !== n)
    throw new Error(
      `encodeSafetensors: '${name}' has ${e.data.length} values for shape [${e.shape.join(', ')}]`,
    );
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = e.data[i]!;
    switch (e.dtype) {
      case 'F64':
        view.setFloat64(i * 8, v, true);
        break;
      case 'F32':
        view.setFloat32(i * 4, v, true);
        break;
      case 'F16':
        view.setUint16(i * 2, f32ToF16Bits(v), true);
        break;
      case 'BF16':
        view.setUint16(i * 2, f32ToBf16Bits(v), true);
        break;
      case 'I64':
        view.setBigInt64(i * 8, BigInt(Math.trunc(v)), true);
        break;
      case 'I32':
        view.setInt32(i * 4, v, true);
        break;
      case 'I16':
        view.setInt16(i * 2, v, true);
        break;
      case 'I8':
        view.setInt8(i, v);
        break;
      case 'U8':
      case 'BOOL':
        view.setUint8(i, v);
        break;
    }
  }
  return out;
}

/** Serialises tensors (in map order) and optional string metadata into safetensors bytes. */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, SafetensorsEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header['__metadata__'] = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, e] of tensors) {
    if (name === '__metadata__') throw new Error('encodeSafetensors: "__metadata__" is reserved');
    const bytes = encodeValues(name, e);
    header[name] = { dtype: e.dtype, shape: [...e.shape], data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  const jsonBytes0 = new TextEncoder().encode(json);
  json += ' '.repeat((8 - ((8 + jsonBytes0.length) % 8)) % 8);
  const jsonBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + jsonBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.length), true);
  out.set(jsonBytes, 8);
  let at = 8 + jsonBytes.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

function decodeValues(dtype: SafetensorsDType, bytes: Uint8Array, n: number): SafetensorsValues {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F64':
      return Float64Array.from({ length: n }, (_, i) => view.getFloat64(i * 8, true));
    case 'F32':
      return Float32Array.from({ length: n }, (_, i) => view.getFloat32(i * 4, true));
    case 'F16':
      return Float32Array.from({ length: n }, (_, i) => f16BitsToF32(view.getUint16(i * 2, true)));
    case 'BF16':
      return Float32Array.from({ length: n }, (_, i) => bf16BitsToF32(view.getUint16(i * 2, true)));
    case 'I64':
      return Float64Array.from({ length: n }, (_, i) => Number(view.getBigInt64(i * 8, true)));
    case 'I32':
      return Int32Array.from({ length: n }, (_, i) => view.getInt32(i * 4, true));
    case 'I16':
      return Int16Array.from({ length: n }, (_, i) => view.getInt16(i * 2, true));
    case 'I8':
      return Int8Array.from({ length: n }, (_, i) => view.getInt8(i));
    case 'U8':
    case 'BOOL':
      return Uint8Array.from(bytes);
  }
}

const isDType = (d: unknown): d is SafetensorsDType => typeof d === 'string' && d in BYTES;
const isDim = (d: unknown): d is number => typeof d === 'number' && Number.isInteger(d) && d >= 0;

/**
 * Parses safetensors bytes, validating the header against the file: known
 * dtypes, shapes, offsets inside the data, sizes matching shapes, and the data
 * covered without gaps or overlaps. Errors are `SafetensorsError`s naming
 * `source` (a file name) and the byte offset.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors buffer'): SafetensorsFile {
  const fail = (offset: number, detail: string): never => {
    throw new SafetensorsError(source, offset, detail);
  };
  if (bytes.length < 8) fail(0, `file has ${bytes.length} bytes, fewer than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8)
    fail(0, `header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (e) {
    fail(8, `header (bytes 8..${8 + headerLength}) is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    return fail(8, 'header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, SafetensorsEntry<SafetensorsValues>>();
  let metadata: Record<string, string> = {};
  const ranges: { name: string; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Object.values(raw).some((v) => typeof v !== 'string'))
        fail(8, '__metadata__ must map strings to strings');
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isDType(e?.dtype)) return fail(8, `tensor '${name}': unknown dtype ${JSON.stringify(e?.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every(isDim))
      return fail(8, `tensor '${name}': bad shape ${JSON.stringify(e.shape)}`);
    const offsets: unknown = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDim) || offsets[0]! > offsets[1]!)
      return fail(8, `tensor '${name}': bad data_offsets ${JSON.stringify(offsets)}`);
    const [begin, end] = offsets as [number, number];
    if (end > dataLength)
      fail(
        dataStart + begin,
        `tensor '${name}': bytes ${dataStart + begin}..${dataStart + end} run past the end of the file (${bytes.length} bytes)`,
      );
    const shape = e.shape as number[];
    const expected = numel(shape) * BYTES[e.dtype];
    if (end - begin !== expected)
      fail(
        dataStart + begin,
        `tensor '${name}': ${end - begin} bytes of data, but ${e.dtype}[${shape.join(', ')}] needs ${expected}`,
      );
    ranges.push({ name, begin, end });
    tensors.set(name, {
      dtype: e.dtype,
      shape,
      data: decodeValues(e.dtype, bytes.subarray(dataStart + begin, dataStart + end), numel(shape)),
    });
  }
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const r of ranges) {
    if (r.begin < covered)
      fail(dataStart + r.begin, `tensor '${r.name}' overlaps the previous tensor's bytes`);
    if (r.begin > covered && r.end > r.begin)
      fail(dataStart + covered, `bytes ${dataStart + covered}..${dataStart + r.begin} belong to no tensor`);
    covered = Math.max(covered, r.end);
  }
  if (covered !== dataLength)
    fail(dataStart + covered, `${dataLength - covered} trailing bytes belong to no tensor`);
  return { tensors, metadata };
}
