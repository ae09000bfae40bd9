import type { Backend, BackendBuffer } from './backend.js';

/**
 * A reference-counted backend buffer shared by a tensor and its views. The
 * buffer returns to the backend's pool when the last handle lets go.
 */
export class Storage {
  private refs = 1;
  constructor(
    readonly backend: Backend,
    readonly buffer: BackendBuffer,
  ) {}

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) this.backend.free(this.buffer);
  }

  get released(): boolean {
    return this.refs <= 0;
  }
}
