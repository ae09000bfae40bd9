import { DataError } from '../errors.js';
import type { SourceDocument } from './document.js';
import { readLines } from './lines.js';

/**
 * Documents of a JSON Lines file: each non-blank line is an object whose `field` holds the text.
 * A `null` field is passed on (and skipped by ingestion); a missing field, a non-string value,
 * invalid JSON or a non-object line throws a {@link DataError} with the line index and byte offset.
 */
export async function* readJsonlDocuments(file: string, field: string): AsyncGenerator<SourceDocument> {
  for await (const line of readLines(file)) {
    if (line.text.trim() === '') continue;
    const where = { file, record: line.index, offset: line.offset };
    let value: unknown;
    try {
      value = JSON.parse(line.text);
    } catch (error) {
      throw new DataError('bad-input', where, `invalid JSON: ${(error as Error).message}`, { cause: error });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new DataError('bad-input', where, 'line is not a JSON object');
    }
    if (!Object.hasOwn(value, field)) throw new DataError('column-missing', where, `no field "${field}"`);
    const text = (value as Record<string, unknown>)[field];
    if (text !== null && typeof text !== 'string') {
      throw new DataError(
        'column-type',
        where,
        `field "${field}" is ${Array.isArray(text) ? 'array' : typeof text}, expected string`,
      );
    }
    yield { text, record: line.index, offset: line.offset };
  }
}
