import { NodeClusterSocket } from '@effect/platform-node';
import { PgClient } from '@effect/sql-pg';
import { Layer, Option, Redacted } from 'effect';
import { ClusterWorkflowEngine, RunnerAddress, type ShardingConfig } from 'effect/cluster';

/** Sharding settings that may be tuned per deployment (the rest use effect/cluster's defaults). */
export type ClusterTuning = Partial<
  Pick<
    ShardingConfig.ShardingConfig['Service'],
    | 'shardsPerGroup'
    | 'runnerShardWeight'
    | 'shardLockRefreshInterval'
    | 'shardLockExpiration'
    | 'entityMessagePollInterval'
    | 'entityReplyPollInterval'
    | 'refreshAssignmentsInterval'
    | 'runnerHealthCheckInterval'
    | 'entityMaxIdleTime'
  >
>;

/**
 * Defaults for training sweeps: runs last minutes to hours, so a few seconds
 * of polling latency cost nothing, while a crashed runner's runs should move
 * to a live runner within ~15 s rather than effect/cluster's generic ~1 min.
 */
export const sweepClusterDefaults: ClusterTuning = {
  shardsPerGroup: 64,
  shardLockRefreshInterval: '3 seconds',
  shardLockExpiration: '10 seconds',
  entityMessagePollInterval: '1 second',
  entityReplyPollInterval: '500 millis',
  refreshAssignmentsInterval: '2 seconds',
  runnerHealthCheckInterval: '2 seconds',
};

/** The PostgreSQL client layer from a `postgres://user@host:port/db` URL. */
export const postgresLayer = (postgresUrl: string) =>
  PgClient.layer({ url: Redacted.make(postgresUrl), applicationName: 'dynconv-sweep' });

/**
 * A cluster member that runs workflows: socket transport on `host:port`,
 * shard locks, runner registry and message storage in PostgreSQL, and the
 * cluster-backed durable `WorkflowEngine`. Each GPU machine runs one.
 */
export const runnerClusterLayer = (options: {
  readonly postgresUrl: string;
  readonly host: string;
  readonly port: number;
  /** Address to bind (e.g. `0.0.0.0`) when it differs from the advertised `host`. */
  readonly listenHost?: string;
  readonly tuning?: ClusterTuning;
}) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(
      NodeClusterSocket.layer({
        storage: 'sql',
        shardingConfig: {
          ...sweepClusterDefaults,
          ...options.tuning,
          runnerAddress: Option.some(RunnerAddress.make(options.host, options.port)),
          runnerListenAddress: Option.some(
            RunnerAddress.make(options.listenHost ?? options.host, options.port),
          ),
        },
      }),
    ),
    Layer.provide(postgresLayer(options.postgresUrl)),
  );

/**
 * A client-only cluster member: submits and polls workflows (stored in
 * PostgreSQL) without taking shards, so `dynconv sweep --cluster` can run on a
 * laptop while the runners do the work.
 */
export const clientClusterLayer = (options: {
  readonly postgresUrl: string;
  readonly tuning?: ClusterTuning;
}) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(
      NodeClusterSocket.layer({
        clientOnly: true,
        storage: 'sql',
        shardingConfig: { ...sweepClusterDefaults, ...options.tuning, runnerAddress: Option.none() },
      }),
    ),
    Layer.provide(postgresLayer(options.postgresUrl)),
  );
