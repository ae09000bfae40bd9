import { PRESETS, type PresetName } from './training/run-config.js';

/** Options read from the page URL, e.g. `?preset=smoke&variant=dynamic-qkv&seed=3&steps=20`. */
export interface PageOptions {
  readonly preset: PresetName;
  readonly variant: string | null;
  readonly seed: number | null;
  readonly steps: number | null;
}

export function readPageOptions(search: string): PageOptions {
  const params = new URLSearchParams(search);
  const preset = params.get('preset') ?? 'demo';
  if (!(preset in PRESETS))
    throw new Error(`unknown preset "${preset}" (known: ${Object.keys(PRESETS).join(', ')})`);
  return {
    preset: preset as PresetName,
    variant: params.get('variant'),
    seed: integerParam(params, 'seed'),
    steps: integerParam(params, 'steps'),
  };
}

function integerParam(params: URLSearchParams, name: string): number | null {
  const raw = params.get(name);
  if (raw === null) return null;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`URL parameter ${name} must be a non-negative integer`);
  return value;
}
