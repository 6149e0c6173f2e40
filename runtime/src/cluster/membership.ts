// Which runtime processes there are and which partitions each owns, for the admin API and the
// dashboard. Every process publishes a small report of itself to Redis every few seconds under a
// key that expires; any process can then show the whole cluster. Off the data path: a failed
// report is logged and tried again, nothing else waits for it.
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { PartitionFigures } from '../metrics/runtime-metrics.js';

/** One owned partition in a member's report. */
export interface MemberPartition {
  partition: number;
  status: PartitionFigures['status'];
  lag: number | undefined;
  watermark: number | undefined;
}

/** What one runtime process says about itself. */
export interface MemberReport {
  instance: string;
  startedAt: string;
  reportedAt: string;
  ready: boolean;
  partitions: MemberPartition[];
}

/** The cluster as the members' reports show it. */
export interface ClusterView {
  totalPartitions: number;
  members: (MemberReport & { reportAgeMs: number })[];
  /** Partitions no member reports owning (briefly normal while a dead member's partitions move). */
  unowned: number[];
  /** Partitions more than one member reports (briefly normal while partitions move). */
  contested: number[];
}

export interface Membership {
  /** The reports of the live members, this process's own included. */
  members(): Promise<MemberReport[]>;
  close(): Promise<void>;
}

/** Most members shown; a deployment with more processes shows the first ones by name. */
const maxMembers = 1000;

export function clusterView(
  totalPartitions: number,
  reports: readonly MemberReport[],
  now = Date.now(),
): ClusterView {
  const owners = new Map<number, number>();
  for (const r of reports)
    for (const p of r.partitions) owners.set(p.partition, (owners.get(p.partition) ?? 0) + 1);
  const unowned: number[] = [];
  const contested: number[] = [];
  for (let p = 0; p < totalPartitions; p++) {
    const n = owners.get(p) ?? 0;
    if (n === 0) unowned.push(p);
    else if (n > 1) contested.push(p);
  }
  return {
    totalPartitions,
    members: [...reports]
      .sort((a, b) => a.instance.localeCompare(b.instance))
      .map((r) => ({ ...r, reportAgeMs: Math.max(0, now - Date.parse(r.reportedAt)) })),
    unowned,
    contested,
  };
}

/** A process on its own (dev mode): the cluster is this process. */
export class LocalMembership implements Membership {
  constructor(private readonly report: () => Promise<MemberReport>) {}

  async members(): Promise<MemberReport[]> {
    return [await this.report()];
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export interface RedisMembershipOptions {
  redis: Redis;
  /** The deployment's Redis key prefix; the member keys share one hash tag (one Cluster slot). */
  keyPrefix: string;
  instance: string;
  report: () => Promise<MemberReport>;
  /** How often this process publishes its report. @defaultValue 5000 */
  intervalMs?: number | undefined;
  /** A member whose last report is older than this is gone. @defaultValue 3 × intervalMs */
  ttlMs?: number | undefined;
  logger?: Logger | undefined;
}

/** Members of a production deployment, through Redis. */
export class RedisMembership implements Membership {
  private readonly index: string;
  private readonly intervalMs: number;
  private readonly ttlMs: number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private publishing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: RedisMembershipOptions) {
    this.index = `${opts.keyPrefix}:{members}`;
    this.intervalMs = opts.intervalMs ?? 5000;
    this.ttlMs = opts.ttlMs ?? 3 * this.intervalMs;
    this.log = (opts.logger ?? silentLogger).child({ component: 'membership' });
  }

  private key(instance: string): string {
    return `${this.index}:${instance}`;
  }

  /** Publishes now and then every interval. */
  start(): void {
    const tick = (): void => {
      this.publishing = this.publish()
        .catch((err: unknown) => this.log.warn('could not publish this process to the cluster view', { err }))
        .finally(() => {
          this.publishing = undefined;
          if (!this.closed) this.timer = setTimeout(tick, this.intervalMs).unref();
        });
    };
    tick();
  }

  /** Writes this process's report with its expiry. */
  async publish(): Promise<void> {
    const report = await this.opts.report();
    const now = Date.now();
    await this.opts.redis
      .multi()
      .set(this.key(report.instance), JSON.stringify(report), 'PX', this.ttlMs)
      .zadd(this.index, now + this.ttlMs, report.instance)
      .zremrangebyscore(this.index, '-inf', now)
      .exec();
  }

  async members(): Promise<MemberReport[]> {
    const live = await this.opts.redis.zrangebyscore(this.index, Date.now(), '+inf', 'LIMIT', 0, maxMembers);
    if (live.length === 0) return [];
    const texts = await this.opts.redis.mget(live.map((i) => this.key(i)));
    const reports: MemberReport[] = [];
    for (const text of texts) {
      if (text === null) continue;
      try {
        reports.push(JSON.parse(text) as MemberReport);
      } catch {
        // A report this version cannot read: leave it out.
      }
    }
    return reports;
  }

  /** Stops publishing and removes this process from the view (it left). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.publishing;
    await this.opts.redis
      .multi()
      .del(this.key(this.opts.instance))
      .zrem(this.index, this.opts.instance)
      .zremrangebyscore(this.index, '-inf', Date.now())
      .exec()
      .catch(() => undefined);
  }
}

/** A member report from this process's partition figures. */
export function memberReport(
  instance: string,
  startedAt: number,
  ready: boolean,
  partitions: readonly PartitionFigures[],
): MemberReport {
  return {
    instance,
    startedAt: new Date(startedAt).toISOString(),
    reportedAt: new Date().toISOString(),
    ready,
    partitions: partitions.map((p) => ({
      partition: p.partition,
      status: p.status,
      lag: p.lag,
      watermark: p.watermark,
    })),
  };
}
