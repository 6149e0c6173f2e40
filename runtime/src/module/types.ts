// Typed, validated shapes of a module (module.yaml) after parsing: what the rest of the runtime
// consumes. The loader (./loader.ts) produces these frozen objects; nothing downstream sees YAML.

/** Where a component came from, for error messages: 1-based document number in the file. */
export interface ComponentSource {
  file: string;
  document: number;
  /** 1-based line where the component starts (its document, or its entry in a legacy v3.0 list). */
  line?: number | undefined;
}

export interface TlsOptions {
  /** PEM file path(s) of CAs to trust (`trust_cacerts`). */
  trustCaCerts?: string | undefined;
  /** PEM client certificate path (`client_cert`). */
  clientCert?: string | undefined;
  /** PEM client key path (`client_key`). */
  clientKey?: string | undefined;
  clientKeyPassword?: string | undefined;
}

/** Transport settings of an HTTP endpoint, durations resolved to milliseconds. */
export interface TransportConfig {
  type: 'async' | 'okhttp';
  /** Total budget for one call including retries. */
  callTimeoutMs: number;
  connectTimeoutMs: number;
  /** okhttp only; undefined for async. */
  readTimeoutMs?: number | undefined;
  writeTimeoutMs?: number | undefined;
  /** Idle connection time-to-live in the pool; 0 disables pooling. */
  poolTtlMs: number;
  poolSize: number;
  payloadMaxBytes: number;
  tls?: TlsOptions | undefined;
}

export interface HttpEndpointConfig {
  kind: 'io.statefun.endpoints.v2/http' | 'io.statefun.endpoints.v1/http';
  /** `namespace/name` (exact) or `namespace/*` (wildcard). */
  functions: string;
  /** Exact when `functions` names one type; wildcard when it ends in `/*`. */
  match: { kind: 'exact'; typename: string } | { kind: 'namespace'; namespace: string };
  /** URL template, may contain `{function.name}`; schemes http, https, http+unix, https+unix. */
  urlPathTemplate: string;
  /** Backlog bound per address; <= 0 means unbounded. Default 1000. */
  maxNumBatchRequests: number;
  /**
   * Calls to this endpoint running at once (its bulkhead), per endpoint URL; undefined: the
   * runtime's default. A Continuum extension that StateFun does not know.
   */
  maxConcurrentCalls?: number | undefined;
  transport: TransportConfig;
  source: ComponentSource;
}

export type StartupPosition =
  | { type: 'group-offsets' }
  | { type: 'earliest' }
  | { type: 'latest' }
  | { type: 'specific-offsets'; offsets: Record<string, number> }
  | { type: 'date'; epochMs: number };

export interface KafkaIngressTopic {
  topic: string;
  valueType: string;
  targets: string[];
}

/** Where an ingress record's event time comes from. */
export type EventTimeExtractor =
  /** Kafka: the record's timestamp (producer or broker time). */
  | { type: 'record-timestamp' }
  /** Playground: the time the HTTP request arrived. */
  | { type: 'ingress-time' }
  /** A field of the JSON value: a number of ms since the epoch, or ISO-8601 text; dotted paths go into objects. */
  | { type: 'json-field'; field: string };

/** Event time of an ingress (`spec.eventTime`, an extension of ours), durations in milliseconds. */
export interface EventTimeConfig {
  /** The watermark trails the highest event time seen by this much: the bound on disorder. */
  maxOutOfOrdernessMs: number;
  /** A source without records for this long is idle and holds no watermark back; 0 = never idle. */
  idleTimeoutMs: number;
  extractor: EventTimeExtractor;
}

export interface KafkaIngressConfig {
  kind: 'io.statefun.kafka.v1/ingress';
  id: string;
  /** Bootstrap servers, from `address` or `properties.bootstrap.servers`; may be empty (then the CLI/env supplies them). */
  brokers: string[];
  consumerGroupId?: string | undefined;
  topics: KafkaIngressTopic[];
  autoOffsetResetPosition: 'earliest' | 'latest';
  startupPosition: StartupPosition;
  properties: Record<string, string>;
  eventTime: EventTimeConfig;
  source: ComponentSource;
}

export interface KafkaEgressConfig {
  kind: 'io.statefun.kafka.v1/egress';
  id: string;
  brokers: string[];
  deliverySemantic: {
    type: 'at-least-once' | 'exactly-once' | 'none';
    transactionTimeoutMs?: number | undefined;
  };
  properties: Record<string, string>;
  source: ComponentSource;
}

export interface PlaygroundIngressConfig {
  kind: 'io.statefun.playground.v1/ingress';
  port: number;
  eventTime: EventTimeConfig;
  source: ComponentSource;
}

export interface PlaygroundEgressConfig {
  kind: 'io.statefun.playground.v1/egress';
  /** The egress id is always `io.statefun.playground/egress`. */
  id: 'io.statefun.playground/egress';
  port: number;
  topics: string[];
  source: ComponentSource;
}

/** The request-response HTTP ingress (`io.continuum.http.v1/ingress`), durations in milliseconds. */
export interface HttpIngressConfig {
  kind: 'io.continuum.http.v1/ingress';
  id: string;
  port: number;
  /** Bearer token callers must send (`auth.token`). */
  token?: string | undefined;
  /** Environment variable holding the bearer token (`auth.tokenEnv`), read when the server starts. */
  tokenEnv?: string | undefined;
  /** Largest request body accepted (413 beyond). */
  maxBodyBytes: number;
  /** How long a request waits for its reply when it names no `?timeout=`. */
  defaultTimeoutMs: number;
  /** The longest `?timeout=` accepted. */
  maxTimeoutMs: number;
  /** How long idempotency keys, request records and replies are kept. */
  retentionMs: number;
  /** Requests waiting for their reply in one process at most (503 beyond). */
  maxPendingRequests: number;
  source: ComponentSource;
}

/** A component of a kind this runtime recognises but cannot run (e.g. Kinesis), kept when marked optional. */
export interface UnsupportedComponent {
  kind: string;
  id?: string | undefined;
  source: ComponentSource;
}

export interface ModuleConfig {
  file: string;
  endpoints: readonly HttpEndpointConfig[];
  kafkaIngresses: readonly KafkaIngressConfig[];
  kafkaEgresses: readonly KafkaEgressConfig[];
  playgroundIngresses: readonly PlaygroundIngressConfig[];
  playgroundEgresses: readonly PlaygroundEgressConfig[];
  /** Request-response HTTP ingresses; absent in modules built before they existed. */
  httpIngresses?: readonly HttpIngressConfig[] | undefined;
  skipped: readonly UnsupportedComponent[];
  /** Non-fatal findings: likely typos in keys, ignored settings, deprecated keys. Filled by the loader. */
  warnings?: readonly ModuleIssue[] | undefined;
}

/** One finding about a module file, precise enough to fix it without reading the loader. */
export interface ModuleIssue {
  severity: 'error' | 'warning';
  file: string;
  /** 1-based document number in the file; undefined for problems of the whole file. */
  document?: number | undefined;
  /** 1-based line of the offending YAML node (or of its nearest existing parent). */
  line?: number | undefined;
  /** The component's `kind`, when known. */
  kind?: string | undefined;
  /** Key path from the document root, e.g. `spec.transport.call` or `spec.topics[0].targets[1]`; empty for the document itself. */
  path: string;
  /** What was found and what was expected. */
  message: string;
}
