import { open } from 'node:fs/promises';
import { type Dictionary, type RecordBatch, RecordBatchReader, type Schema, Type } from 'apache-arrow';
import { registerArrowCodecs } from '../compression/lz4-frame.js';
import { DataError } from '../errors.js';
import type { SourceDocument } from './document.js';

/**
 * Documents of an Arrow IPC file/stream or Feather v2 file (uncompressed or LZ4): the `column` (Utf8 or LargeUtf8),
 * one per row, read batch by batch through a file handle. Nulls are passed on as `null`.
 * Errors: `column-missing`, `column-type`, `corrupt` (unparseable, compressed buffers without a
 * registered codec such as ZSTD, truncated; with the first row of the failing batch as `record`).
 */
export async function* readArrowDocuments(file: string, column: string): AsyncGenerator<SourceDocument> {
  registerArrowCodecs();
  const fh = await open(file, 'r');
  let row = 0;
  try {
    let reader: AsyncIterable<RecordBatch> & { schema: Schema };
    try {
      const r = await RecordBatchReader.from(fh);
      await r.open();
      reader = r as unknown as typeof reader;
    } catch (error) {
      throw new DataError('corrupt', { file }, `not a readable Arrow IPC file: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const index = reader.schema.fields.findIndex((f) => f.name === column);
    if (index < 0) {
      const names = reader.schema.fields.map((f) => f.name).join(', ');
      throw new DataError('column-missing', { file }, `no column "${column}" (columns: ${names})`);
    }
    const type = reader.schema.fields[index]!.type;
    // Dictionary-encoded strings (pandas categoricals) read the same way.
    const valueType = type.typeId === Type.Dictionary ? (type as Dictionary).dictionary : type;
    if (valueType.typeId !== Type.Utf8 && valueType.typeId !== Type.LargeUtf8) {
      throw new DataError(
        'column-type',
        { file },
        `column "${column}" has type ${String(type)}, expected Utf8 (or a dictionary of Utf8)`,
      );
    }
    const batches = reader[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<RecordBatch>;
      try {
        next = await batches.next();
      } catch (error) {
        throw new DataError(
          'corrupt',
          { file, record: row },
          `unreadable record batch: ${(error as Error).message}`,
          { cause: error },
        );
      }
      if (next.done) break;
      const vector = next.value.getChildAt(index)!;
      for (let i = 0; i < vector.length; i++)
        yield { text: (vector.get(i) as string | null) ?? null, record: row++ };
    }
  } finally {
    await fh.close();
  }
}
