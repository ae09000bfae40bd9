import {
  type ArchitectureV1 as AnyArchitecture,
  gatedDeltaNet,
  glaArchitecture,
  hybrid,
  mamba2,
  moeTransformer,
  registry,
  transformer,
} from '@dynconv/architectures';
import { Context, Effect, Layer } from 'effect';
import { UnknownArchitecture } from '../errors.js';
import type { ArchitectureV1 } from './spec.js';

/** Looks architecture plugins up by name. */
export interface ArchitecturesShape {
  get(name: string): Effect.Effect<ArchitectureV1<unknown>, UnknownArchitecture>;
  /** Registered names, sorted. */
  names(): readonly string[];
}

// biome-ignore lint/suspicious/noExplicitAny: plugins have different config types
const fromList = (list: readonly ArchitectureV1<any>[]): ArchitecturesShape => {
  const byName = new Map(list.map((a) => [a.name, a as ArchitectureV1<unknown>]));
  const names = () => [...byName.keys()].sort();
  return {
    get: (name) => {
      const a = byName.get(name);
      return a ? Effect.succeed(a) : Effect.fail(new UnknownArchitecture({ name, known: names() }));
    },
    names,
  };
};

/** The architecture registry service. */
export class Architectures extends Context.Service<Architectures, ArchitecturesShape>()(
  '@dynconv/trainer/Architectures',
) {
  /**
   * The plugins registered with `@dynconv/architectures`. The built-ins are
   * also named here: they register themselves as a module side effect, which
   * a bundler may drop from a package marked side-effect free.
   */
  static readonly layer: Layer.Layer<Architectures> = Layer.sync(Architectures, () => {
    // biome-ignore lint/suspicious/noExplicitAny: plugins have different config types
    const builtIns: AnyArchitecture<any>[] = [
      transformer,
      hybrid,
      gatedDeltaNet,
      mamba2,
      glaArchitecture,
      moeTransformer,
    ];
    const registered = registry.list().map((name) => registry.get(name));
    return fromList([...new Map([...builtIns, ...registered].map((a) => [a.name, a])).values()]);
  });
  /** A registry of exactly these plugins (tests, custom plugins). */
  // biome-ignore lint/suspicious/noExplicitAny: plugins have different config types
  static readonly layerFrom = (list: readonly ArchitectureV1<any>[]): Layer.Layer<Architectures> =>
    Layer.succeed(Architectures, fromList(list));
  static readonly fromList = fromList;
}
