// The one JSON document the dashboard polls: health with the problems behind it, throughput and
// latency history, functions, endpoints, partitions with lag, and recent dead letters.
import type {
  EndpointFigures,
  FunctionFigures,
  HistoryPoint,
  PartitionFigures,
  RuntimeMetrics,
} from '../metrics/runtime-metrics.js';
import type { ClusterView } from '../cluster/membership.js';
import type { DevTopicView } from '../ingress/dev-kafka.js';
import type { DeadLetters, DeadLetterView } from './dead-letters.js';
import type { BulkheadLoad } from '../transport/bulkheads.js';

/** The function client's load: in total, and per endpoint URL with calls running or waiting. */
export interface ClientLoad {
  inFlight: number;
  queued: number;
  endpoints?: BulkheadLoad[] | undefined;
}

/** What `GET /v1/overview` returns. */
export interface Overview {
  instance: string;
  mode: string;
  now: string;
  startedAt: string;
  health: {
    /** `ok`; `degraded` (it works, with problems below); `failing` (not ready, or calls failing). */
    status: 'ok' | 'degraded' | 'failing';
    ready: boolean;
    problems: string[];
  };
  totals: {
    ingress: number;
    invocations: number;
    egress: number;
    deadLetters: number;
    failedMessages: number;
  };
  /** The last history sample (rates per second), if any. */
  current: HistoryPoint | undefined;
  history: HistoryPoint[];
  lag: { total: number; max: number; partitions: number };
  functions: FunctionFigures[];
  endpoints: EndpointFigures[];
  partitions: PartitionFigures[];
  deadLetters: { topic: string; total: number; byCode: Record<string, number>; recent: DeadLetterView[] };
  stateCache: { hits: number; misses: number; hitRate: number | undefined };
  client: { inFlight: number; queued: number; endpoints: BulkheadLoad[] };
  memory: { rssBytes: number; heapUsedBytes: number };
  /** Every runtime process of the deployment and the partitions each owns; undefined if unknown. */
  cluster: ClusterView | undefined;
  /** Dev mode: the module's Kafka topics with their record counts; undefined in production. */
  topics: { mode: 'embedded' | 'kafka'; brokers: string[]; list: DevTopicView[] } | undefined;
}

export interface OverviewSources {
  instance: string;
  mode: string;
  metrics: RuntimeMetrics;
  deadLetters: DeadLetters;
  ready: () => boolean;
  clientLoad?: (() => ClientLoad) | undefined;
  cluster?: (() => Promise<ClusterView>) | undefined;
  topics?: { mode: 'embedded' | 'kafka'; brokers: string[]; topics(): Promise<DevTopicView[]> } | undefined;
}

/** Lag beyond which a partition is reported as falling behind. */
const lagWarning = 10_000;

export async function buildOverview(s: OverviewSources): Promise<Overview> {
  const { metrics } = s;
  const [partitions, letters, cluster, topicList] = await Promise.all([
    metrics.partitions(),
    s.deadLetters.list({ limit: 20 }).catch(() => ({
      topic: s.deadLetters.topic,
      total: 0,
      byCode: {},
      items: [] as DeadLetterView[],
    })),
    // The cluster view is a convenience: without Redis at the moment, the rest still shows.
    s.cluster?.().catch(() => undefined),
    s.topics?.topics().catch(() => undefined),
  ]);
  const history = metrics.historyPoints();
  const current = history.at(-1);
  const counts = metrics.counts;
  const functions = metrics.functionFigures().sort((a, b) => b.invocations - a.invocations);
  const endpoints = metrics.endpointFigures().sort((a, b) => b.failures - a.failures || b.calls - a.calls);
  const ready = s.ready();
  const lags = partitions.map((p) => p.lag ?? 0);
  const lag = {
    total: lags.reduce((a, b) => a + b, 0),
    max: lags.reduce((a, b) => Math.max(a, b), 0),
    partitions: partitions.length,
  };

  const problems: string[] = [];
  const recovering = partitions.filter((p) => p.status === 'recovering').map((p) => p.partition);
  if (!ready) {
    problems.push(
      recovering.length > 0
        ? `not ready: partition${recovering.length > 1 ? 's' : ''} ${recovering.join(', ')} still recovering`
        : 'not ready: waiting for partitions to be assigned',
    );
  }
  const failingNow = current !== undefined && current.failures > 0;
  const load = s.clientLoad?.();
  // Failed attempts show at once (not only once a call gives up), and so do endpoints whose calls
  // wait behind their bulkhead or get no answer.
  problems.push(...metrics.endpointHealth.problems(load?.endpoints ?? []));
  const recentDead = history.slice(-30).reduce((n, p) => n + p.deadLetters, 0);
  if (recentDead > 0)
    problems.push(`dead letters are being written (see Dead letters for codes and reasons)`);
  for (const p of partitions) {
    if (p.paused)
      problems.push(`partition ${p.partition} applies backpressure (${p.mailbox} records waiting)`);
    if ((p.lag ?? 0) > lagWarning) problems.push(`partition ${p.partition} is ${p.lag} records behind`);
  }
  const status = !ready || failingNow ? 'failing' : problems.length > 0 ? 'degraded' : 'ok';

  const lookups = counts.cacheHits + counts.cacheMisses;
  const memory = process.memoryUsage();
  return {
    instance: s.instance,
    mode: s.mode,
    now: new Date().toISOString(),
    startedAt: new Date(metrics.startedAt).toISOString(),
    health: { status, ready, problems },
    totals: {
      ingress: counts.ingress,
      invocations: counts.invocations,
      egress: counts.egress,
      deadLetters: counts.deadLetters,
      failedMessages: counts.failures,
    },
    current,
    history,
    lag,
    functions,
    endpoints,
    partitions,
    deadLetters: {
      topic: letters.topic,
      total: letters.total,
      byCode: letters.byCode,
      recent: letters.items,
    },
    stateCache: {
      hits: counts.cacheHits,
      misses: counts.cacheMisses,
      hitRate: lookups === 0 ? undefined : counts.cacheHits / lookups,
    },
    client: {
      inFlight: load?.inFlight ?? 0,
      queued: load?.queued ?? 0,
      endpoints: load?.endpoints ?? [],
    },
    memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
    cluster,
    topics:
      s.topics === undefined || topicList === undefined
        ? undefined
        : { mode: s.topics.mode, brokers: s.topics.brokers, list: topicList },
  };
}
