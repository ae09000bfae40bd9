import { Schema } from 'effect';

/**
 * Typed failures of the trainer. Each carries a message written for the
 * person at the terminal: what went wrong, where, and what to do about it.
 * The CLI prints `message` and exits non-zero.
 */

/** One problem found while decoding a config: where (a dotted path) and what. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** A run config that does not decode; lists every problem with its path. */
export class ConfigError extends Schema.TaggedError<ConfigError>()('ConfigError', {
  source: Schema.String,
  problems: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String })),
}) {
  override get message(): string {
    const lines = this.problems.map((p) => `  - ${p.path || '(root)'}: ${p.message}`);
    return `Invalid config (${this.source}): ${this.problems.length} problem${this.problems.length === 1 ? '' : 's'}\n${lines.join('\n')}`;
  }
}

/** A config, preset or checkpoint file that cannot be read. */
export class FileError extends Schema.TaggedError<FileError>()('FileError', {
  path: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `${this.path}: ${this.reason}`;
  }
}

/** The run config names an architecture the registry does not know. */
export class UnknownArchitecture extends Schema.TaggedError<UnknownArchitecture>()('UnknownArchitecture', {
  name: Schema.String,
  known: Schema.Array(Schema.String),
}) {
  override get message(): string {
    const known = this.known.length ? this.known.join(', ') : '(none registered)';
    return `Unknown architecture '${this.name}'. Known architectures: ${known}`;
  }
}

/** An unknown preset name. */
export class UnknownPreset extends Schema.TaggedError<UnknownPreset>()('UnknownPreset', {
  name: Schema.String,
  known: Schema.Array(Schema.String),
}) {
  override get message(): string {
    return `Unknown preset '${this.name}'. Presets: ${this.known.join(', ')}`;
  }
}

/**
 * A checkpoint that cannot be used: missing, incomplete, corrupt (checksum or
 * format), or written for another architecture/config. Nothing on disk is
 * changed when this is raised.
 */
export class CheckpointError extends Schema.TaggedError<CheckpointError>()('CheckpointError', {
  path: Schema.String,
  reason: Schema.Literals(['missing', 'corrupt', 'mismatch', 'write']),
  detail: Schema.String,
}) {
  override get message(): string {
    const what = {
      missing: 'checkpoint not found',
      corrupt: 'corrupt checkpoint',
      mismatch: 'checkpoint does not fit this run',
      write: 'could not write checkpoint',
    }[this.reason];
    return `${what}: ${this.path}\n  ${this.detail}`;
  }
}

/** Training stopped because too many steps in a row had non-finite loss or gradients. */
export class TrainingDiverged extends Schema.TaggedError<TrainingDiverged>()('TrainingDiverged', {
  step: Schema.Number,
  consecutive: Schema.Number,
  skippedTotal: Schema.Number,
}) {
  override get message(): string {
    return (
      `Training diverged: ${this.consecutive} steps in a row (up to step ${this.step}) had a non-finite loss or gradient ` +
      `(${this.skippedTotal} skipped in total). Lower optimizer.lr, raise schedule.warmupSteps, or tighten optimizer.gradClip.`
    );
  }
}

/** The requested device cannot be opened. */
export class DeviceError extends Schema.TaggedError<DeviceError>()('DeviceError', {
  device: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `Cannot use device '${this.device}': ${this.reason}`;
  }
}

/** The dataset cannot be opened or does not match the model. */
export class DataError extends Schema.TaggedError<DataError>()('DataError', {
  reason: Schema.String,
}) {
  override get message(): string {
    return `Data: ${this.reason}`;
  }
}

/** Every error the trainer raises. */
export type TrainerError =
  | ConfigError
  | FileError
  | UnknownArchitecture
  | UnknownPreset
  | CheckpointError
  | TrainingDiverged
  | DeviceError
  | DataError
  | ModelError;

/** The architecture plugin failed to build the model (or the model does not fit the data). */
export class ModelError extends Schema.TaggedError<ModelError>()('ModelError', {
  architecture: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `Model '${this.architecture}': ${this.reason}`;
  }
}
