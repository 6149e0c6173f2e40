// `@continuum/example-windowed-counts`: the windowed counter, exported so that another service can serve it.
export {
  Click,
  COUNTS_TOPIC,
  functions,
  LATE_TOPIC,
  offlineCounts,
  PLAYGROUND_WINDOWED_COUNTS,
  playgroundWindowedCounts,
  RESULTS_EGRESS,
  WINDOW_MS,
  WindowClose,
  windowedCounts,
  windowedCountsFunction,
  WINDOWED_COUNTS,
  windowOf,
} from './windowed-counts.js';
export type { LateEvent, ResultSink, ResultTopics, WindowCount } from './windowed-counts.js';
