import type { RecallPrompt } from '../task/recall-prompt.js';
import type { RecallAnswer } from '../training/recall.js';
import { formatPercent } from './dom.js';

/** Renders one line per query: key → recalled value, its probability, and whether it is right. */
export function renderRecall(
  list: HTMLOListElement,
  prompt: RecallPrompt,
  answers: readonly RecallAnswer[],
): void {
  const truth = new Map(prompt.pairs);
  list.replaceChildren(
    ...answers.map((answer) => {
      const expected = truth.get(answer.key);
      const item = document.createElement('li');
      const verdict =
        expected === undefined ? 'not in context' : answer.predicted === expected ? 'right' : 'wrong';
      item.className = `answer answer-${verdict.replaceAll(' ', '-')}`;
      item.textContent =
        `${answer.key} → ${answer.predicted} (${formatPercent(answer.probability)})` +
        (expected === undefined
          ? ' · key not in the context'
          : answer.predicted === expected
            ? ' ✓'
            : ` ✗ expected ${expected}`);
      return item;
    }),
  );
}
