// `@continuum/runtime`: the runtime as a library — for embedding, custom adapters and tests.
// Most users run the `statefun` command instead.
export { ContinuumError, errorCodes, isErrorCode, isRetryable } from './errors.js';
export type { ContinuumErrorOptions, ErrorCode } from './errors.js';
export { deadLetterCodes, isDeadLetterCode } from './core/dead-letter-codes.js';
export type { DeadLetterCode } from './core/dead-letter-codes.js';

export { Runtime } from './runtime.js';
export type { RuntimeOptions } from './runtime.js';
export type { IngressMessage } from './observers.js';
export { startDevRuntime } from './dev-runtime.js';
export type { DevRuntime, DevRuntimeOptions } from './dev-runtime.js';
export { startProdRuntime, moduleBrokers } from './prod-runtime.js';
export type { ProdRuntime, ProdRuntimeOptions } from './prod-runtime.js';

export { defaultTaskConfig } from './core/partition-task.js';
export { resolveTaskConfig } from './core/task-config.js';
export { DEFAULTS } from './defaults.js';
export type { TaskConfig, TaskHooks, TaskStats } from './core/partition-task.js';
export { addressKey, parseAddressKey, partitionForKey, partitionOf } from './core/address.js';
export { Header as RecordHeader } from './core/envelope.js';
export { moduleEgressRouter, moduleFunctionRouter, playgroundTopic } from './core/module-routers.js';
export type { EgressRoute, EgressRouter, FunctionRouter, FunctionTarget } from './core/routing.js';

export type {
  AssignmentListener,
  CommittedPosition,
  Log,
  LogRecord,
  OutRecord,
  OwnedPartition,
  RecordSink,
  TopicReader,
} from './log/log.js';
export { EmbeddedLog } from './log/embedded-log.js';
export type { EmbeddedLogOptions } from './log/embedded-log.js';
export { KafkaLog } from './log/kafka/kafka-log.js';
export type { KafkaLogOptions } from './log/kafka/kafka-log.js';
export type { KafkaConnection } from './log/kafka/client.js';
export { KafkaIngress } from './ingress/kafka-ingress.js';
export { routeIngressRecord } from './core/ingress-routing.js';
export type { IngressSource, SourceGroup, SourcePartition } from './ingress/source.js';
export { WatermarkTracker } from './core/watermarks.js';
export type { WatermarkMark } from './core/watermarks.js';
export { extractEventTime, SourceWatermark, watermarkGroupsOf } from './ingress/event-time.js';

export type {
  AddressDelta,
  PartitionDelta,
  PartitionStore,
  StateStore,
  StoredAddress,
  StoredTimer,
  StoredValue,
} from './state/state-store.js';
export { EmbeddedStateStore } from './state/embedded-state-store.js';
export type { EmbeddedStateStoreOptions } from './state/embedded-state-store.js';
export { RedisStateStore } from './state/redis-state-store.js';
export type { RedisStateStoreOptions } from './state/redis-state-store.js';
export { redisPartitionKeys } from './state/redis-keys.js';

export * from './transport/index.js';
export * from './module/index.js';
export { createLogger, silentLogger } from './logger.js';
export type { Logger, LoggerOptions, LogLevel } from './logger.js';

export { RuntimeMetrics } from './metrics/runtime-metrics.js';
export type { MetricsSources, RuntimeMetricsOptions } from './metrics/runtime-metrics.js';
export { combineObservers } from './metrics/combine-observers.js';
export { Tracing, TRACEPARENT, formatTraceparent, parseTraceparent } from './tracing/tracing.js';
export type { TracingOptions } from './tracing/tracing.js';
export { OtlpJsonExporter, otlpTracerProvider } from './tracing/otlp.js';
export type { OtlpExporterOptions, OtlpTracingOptions } from './tracing/otlp.js';
export { buildAdminServer, startAdminServer } from './admin/admin-server.js';
export type { AdminServer, AdminServerOptions } from './admin/admin-server.js';
