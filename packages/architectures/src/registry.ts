import type { ArchitectureV1 } from './spec/v1.js';

/** A name → plugin table with errors that list what is known. */
export class Registry<T extends { readonly name: string }> {
  private readonly entries = new Map<string, T>();

  /** @param kind what the entries are, for error messages ("architecture", "mixer"). */
  constructor(private readonly kind: string) {}

  /**
   * Adds a plugin. Registering the same object twice is a no-op (modules may
   * be evaluated twice under some bundlers); a different plugin under a taken
   * name is an error.
   */
  register<P extends T>(plugin: P): P {
    const existing = this.entries.get(plugin.name);
    if (existing && existing !== plugin)
      throw new Error(`${this.kind} '${plugin.name}' is already registered`);
    this.entries.set(plugin.name, plugin);
    return plugin;
  }

  /** The plugin called `name`; throws listing the registered names if there is none. */
  get(name: string): T {
    const p = this.entries.get(name);
    if (!p) {
      const known = this.list().join(', ') || '(none)';
      throw new Error(`unknown ${this.kind} '${name}'; registered: ${known}`);
    }
    return p;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Registered names, sorted. */
  list(): string[] {
    return [...this.entries.keys()].sort();
  }
}

/**
 * The architecture registry. Each plugin folder calls
 * `registry.register(plugin)` in its `index.ts`; importing the package main
 * entry loads the built-in plugins (`transformer`, `hybrid`).
 */
// biome-ignore lint/suspicious/noExplicitAny: plugins have different config types
export const registry = new Registry<ArchitectureV1<any>>('architecture');
