/** The element with `id`, checked to be of `type`: a missing element is a bug in index.html. */
export function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`index.html lacks #${id} (${type.name})`);
  return found;
}

export const formatPercent = (fraction: number): string => `${(100 * fraction).toFixed(1)}%`;
