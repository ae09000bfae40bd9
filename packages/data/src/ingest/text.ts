import { readFile } from 'node:fs/promises';
import type { SourceDocument, TextSplit } from './document.js';
import { decodeUtf8, readLines } from './lines.js';

/**
 * Documents of a plain UTF-8 text file, cut as `split` says (see {@link TextSplit}).
 * `line` and `paragraph` stream the file; `file` reads it whole.
 */
export async function* readTextDocuments(file: string, split: TextSplit): AsyncGenerator<SourceDocument> {
  if (split === 'file') {
    const bytes = await readFile(file);
    yield { text: decodeUtf8(file, bytes, 0, 0), record: 0, offset: 0 };
    return;
  }
  if (split === 'line') {
    for await (const line of readLines(file))
      yield { text: line.text, record: line.index, offset: line.offset };
    return;
  }
  // Paragraphs: runs of non-blank lines; internal newlines are kept.
  let parts: string[] = [];
  let start = 0;
  let record = 0;
  for await (const line of readLines(file)) {
    if (line.text.trim() === '') {
      if (parts.length > 0) yield { text: parts.join('\n'), record: record++, offset: start };
      parts = [];
      continue;
    }
    if (parts.length === 0) start = line.offset;
    parts.push(line.text);
  }
  if (parts.length > 0) yield { text: parts.join('\n'), record, offset: start };
}
