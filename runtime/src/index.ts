export { ContinuumError, isRetryable } from './errors.js';
