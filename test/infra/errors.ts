// The one error class of the test harness: every failure to provide Kafka or Redis carries a
// stable code and a message that says what to do about it.

/** Stable codes of {@link InfraError}; tests and CI logs can match on them. */
export type InfraErrorCode =
  | 'JAVA_MISSING'
  | 'KAFKA_JARS_MISSING'
  | 'KAFKA_NOT_READY'
  | 'KAFKA_EXITED'
  | 'REDIS_MISSING'
  | 'REDIS_NOT_READY'
  | 'REDIS_EXITED'
  | 'PORT_BUSY'
  | 'DOCKER_UNAVAILABLE'
  | 'CONTAINERS_MISSING'
  | 'NOT_SUPPORTED'
  | 'BAD_CONFIG'
  | 'STOPPED'
  | 'TIMEOUT';

/** A failure of the test infrastructure (not of the code under test). */
export class InfraError extends Error {
  /** Stable machine-readable code. */
  readonly code: InfraErrorCode;

  constructor(code: InfraErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InfraError';
    this.code = code;
  }
}
