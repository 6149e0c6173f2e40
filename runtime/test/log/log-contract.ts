// The behavioural contract of the `Log` port, written once and run against every adapter: the
// embedded log in the unit project, the Kafka log against the real broker in integration.
import { afterEach, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/core/address.js';
import { ContinuumError } from '../../src/errors.js';
import type { CommittedPosition, Log, LogRecord, OwnedPartition } from '../../src/log/log.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

/** Partitions of the internal topic every subject is created with. */
export const CONTRACT_PARTITIONS = 2;
/** Partitions of the subject's `outTopic`. */
export const CONTRACT_OUT_PARTITIONS = 2;

/** A fresh log to test, with its internal topic and a second topic both empty. */
export interface LogContractSubject {
  /** A log whose internal topic has {@link CONTRACT_PARTITIONS} partitions. */
  log: Log;
  /** An existing topic with {@link CONTRACT_OUT_PARTITIONS} partitions that `log` may write to. */
  outTopic: string;
  /**
   * A second log over the same data (a restart of the process, after `log` was closed);
   * required when the suite runs with `durable`.
   */
  reopen?: (() => Promise<Log>) | undefined;
  /** Frees what the subject set up beyond its logs (closed by the suite). */
  cleanup?: (() => Promise<void>) | undefined;
}

export interface LogContractOptions {
  /** The log keeps records and committed positions across a restart (`reopen`). */
  durable: boolean;
  /** How long a written record or committed position may take to become visible to a reader. */
  visibleWithinMs: number;
}

const text = new TextEncoder();
const bytes = (s: string): Uint8Array => text.encode(s);
const str = (v: Uint8Array | null): string | null => (v === null ? null : Buffer.from(v).toString('utf8'));

/** Registers the contract suite for the adapter that `create` builds. */
export function describeLogContract(
  name: string,
  create: () => Promise<LogContractSubject>,
  options: LogContractOptions,
): void {
  describe(`${name} honours the Log contract`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function subject(): Promise<LogContractSubject> {
      const s = await create();
      cleanups.push(async () => {
        await s.log.close();
        await s.cleanup?.();
      });
      return s;
    }

    /** Waits until `topic`/`partition` serves at least `count` committed records from offset 0. */
    async function readAll(log: Log, topic: string, partition: number, count: number): Promise<LogRecord[]> {
      const reader = log.reader(topic);
      let got: readonly LogRecord[] = [];
      await waitUntil(
        async () => {
          got = await reader.read(partition, 0, 1000);
          return got.length >= count;
        },
        { timeoutMs: options.visibleWithinMs, what: `${count} record(s) on ${topic}/${partition}` },
      );
      return [...got];
    }

    /** Joins the group and resolves with every internal partition, fenced. */
    async function joinAll(log: Log): Promise<Map<number, OwnedPartition>> {
      const owned = new Map<number, OwnedPartition>();
      await log.join({
        assigned: async (o) => {
          await o.fence();
          owned.set(o.partition, o);
        },
        revoked: (p) => {
          owned.delete(p);
          return Promise.resolve();
        },
      });
      await waitUntil(() => owned.size === log.partitions, {
        timeoutMs: options.visibleWithinMs,
        what: `all ${log.partitions} internal partitions assigned`,
      });
      return owned;
    }

    async function committedBecomes(o: OwnedPartition, expected: CommittedPosition): Promise<void> {
      let last: CommittedPosition | undefined;
      await waitUntil(
        async () => {
          last = await o.committed();
          return last.offset === expected.offset && last.checkpointId === expected.checkpointId;
        },
        {
          timeoutMs: options.visibleWithinMs,
          what: `committed position ${JSON.stringify(expected)} (last read ${JSON.stringify(last)})`,
        },
      );
    }

    it('names its internal topic and its partition count', async () => {
      const { log } = await subject();
      expect(log.internalTopic.length).toBeGreaterThan(0);
      expect(log.partitions).toBe(CONTRACT_PARTITIONS);
      expect(await log.reader(log.internalTopic).partitions()).toBe(CONTRACT_PARTITIONS);
    });

    it('appended records are read back per partition in append order, with key, value and headers', async () => {
      const { log, outTopic } = await subject();
      await log.append([
        { topic: outTopic, partition: 0, key: 'a', value: bytes('1'), headers: { h: 'x' } },
        { topic: outTopic, partition: 1, key: 'b', value: bytes('2') },
        { topic: outTopic, partition: 0, key: null, value: bytes('3') },
      ]);
      await log.append([{ topic: outTopic, partition: 0, key: 'd', value: null }]);
      const p0 = await readAll(log, outTopic, 0, 3);
      expect(p0.map((r) => [r.offset, r.key, str(r.value)])).toEqual([
        [0, 'a', '1'],
        [1, null, '3'],
        [2, 'd', null],
      ]);
      expect(p0.every((r) => r.topic === outTopic && r.partition === 0)).toBe(true);
      expect(p0[0]!.headers).toEqual({ h: 'x' });
      expect(p0.every((r) => Number.isFinite(r.timestamp) && r.timestamp > 0)).toBe(true);
      const p1 = await readAll(log, outTopic, 1, 1);
      expect(p1.map((r) => [r.offset, r.key, str(r.value)])).toEqual([[0, 'b', '2']]);
      expect(await log.reader(outTopic).partitions()).toBe(CONTRACT_OUT_PARTITIONS);
      // A read from an offset starts there, and `max` bounds it.
      expect((await log.reader(outTopic).read(0, 1, 1)).map((r) => r.offset)).toEqual([1]);
    });

    it('a record without a partition lands where its key hashes (the Kafka partitioner)', async () => {
      const { log, outTopic } = await subject();
      const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];
      await log.append(keys.map((key) => ({ topic: outTopic, key, value: bytes(key) })));
      const expected = [0, 1].map((p) =>
        keys.filter((k) => partitionForKey(k, CONTRACT_OUT_PARTITIONS) === p),
      );
      // The six keys spread over both partitions, so the check below can fail either way.
      expect(expected.every((k) => k.length > 0)).toBe(true);
      for (const p of [0, 1]) {
        const got = await readAll(log, outTopic, p, expected[p]!.length);
        expect(got.map((r) => r.key)).toEqual(expected[p]);
      }
    });

    it('end offsets are 0 on an empty partition and count what was appended, for the partitions asked', async () => {
      const { log } = await subject();
      const topic = log.internalTopic;
      expect(await log.endOffsets([0, 1])).toEqual(
        new Map([
          [0, 0],
          [1, 0],
        ]),
      );
      await log.append([
        { topic, partition: 1, key: 'k', value: bytes('a') },
        { topic, partition: 1, key: 'k', value: bytes('b') },
        { topic, partition: 1, key: 'k', value: bytes('c') },
      ]);
      expect(await log.endOffsets([1])).toEqual(new Map([[1, 3]]));
      expect(await log.endOffsets([0, 1])).toEqual(
        new Map([
          [0, 0],
          [1, 3],
        ]),
      );
    });

    it('joining assigns every internal partition; a fresh one has committed position 0 and checkpoint 0', async () => {
      const { log } = await subject();
      const owned = await joinAll(log);
      expect([...owned.keys()].sort()).toEqual([0, 1]);
      for (const o of owned.values()) expect(await o.committed()).toEqual({ offset: 0, checkpointId: 0 });
    });

    it('a started partition delivers its records from the given offset in order, also those appended later', async () => {
      const { log } = await subject();
      const topic = log.internalTopic;
      await log.append(['a', 'b', 'c'].map((v) => ({ topic, partition: 0, key: 'k', value: bytes(v) })));
      const owned = await joinAll(log);
      const seen: LogRecord[] = [];
      owned.get(0)!.start(1, (records) => seen.push(...records));
      await waitUntil(() => seen.length >= 2, {
        timeoutMs: options.visibleWithinMs,
        what: 'records b and c delivered',
      });
      await log.append(['d', 'e'].map((v) => ({ topic, partition: 0, key: 'k', value: bytes(v) })));
      await waitUntil(() => seen.length >= 4, {
        timeoutMs: options.visibleWithinMs,
        what: 'records d and e delivered',
      });
      expect(seen.map((r) => [r.offset, str(r.value)])).toEqual([
        [1, 'b'],
        [2, 'c'],
        [3, 'd'],
        [4, 'e'],
      ]);
    });

    it('a commit makes its records visible and moves the committed position with its checkpoint id', async () => {
      const { log, outTopic } = await subject();
      const owned = await joinAll(log);
      const p1 = owned.get(1)!;
      await p1.commit(
        [
          { topic: outTopic, partition: 1, key: 'x', value: bytes('one') },
          { topic: outTopic, partition: 1, key: 'y', value: bytes('two') },
        ],
        { offset: 7, checkpointId: 3 },
      );
      expect((await readAll(log, outTopic, 1, 2)).map((r) => str(r.value))).toEqual(['one', 'two']);
      await committedBecomes(p1, { offset: 7, checkpointId: 3 });
      // The other partition's position did not move.
      expect(await owned.get(0)!.committed()).toEqual({ offset: 0, checkpointId: 0 });
      // End offsets come to count the committed records of the internal topic too (Kafka: once
      // the transaction's markers are written, which follows the commit's return).
      await p1.commit([{ topic: log.internalTopic, partition: 1, key: 'z', value: bytes('m') }], {
        offset: 8,
        checkpointId: 4,
      });
      await waitUntil(async () => ((await log.endOffsets([1])).get(1) ?? 0) >= 1, {
        timeoutMs: options.visibleWithinMs,
        what: 'the end offset of internal partition 1 to pass the committed record',
      });
    });

    it('prepare runs before the commit completes; when it rejects nothing is visible and the position stays', async () => {
      const { log, outTopic } = await subject();
      const owned = await joinAll(log);
      const p0 = owned.get(0)!;
      const failure = new Error('staging failed');
      await expect(
        p0.commit(
          [{ topic: outTopic, partition: 0, key: 'k', value: bytes('aborted') }],
          { offset: 5, checkpointId: 1 },
          () => Promise.reject(failure),
        ),
      ).rejects.toBe(failure);
      let prepared = false;
      await p0.commit(
        [{ topic: outTopic, partition: 0, key: 'k', value: bytes('committed') }],
        { offset: 6, checkpointId: 2 },
        () => {
          prepared = true;
          return Promise.resolve();
        },
      );
      expect(prepared).toBe(true);
      // Only the second commit's record is there: the first one's never became readable.
      await committedBecomes(p0, { offset: 6, checkpointId: 2 });
      const records = await readAll(log, outTopic, 0, 1);
      expect(records.map((r) => str(r.value))).toEqual(['committed']);
    });

    it('publish appends in a transaction of the owner without moving the committed position', async () => {
      const { log, outTopic } = await subject();
      const owned = await joinAll(log);
      const p0 = owned.get(0)!;
      await p0.commit([], { offset: 2, checkpointId: 9 });
      await committedBecomes(p0, { offset: 2, checkpointId: 9 });
      await p0.publish([{ topic: outTopic, partition: 1, key: 'k', value: bytes('published') }]);
      expect((await readAll(log, outTopic, 1, 1)).map((r) => str(r.value))).toEqual(['published']);
      expect(await p0.committed()).toEqual({ offset: 2, checkpointId: 9 });
    });

    it('a reacquired partition fences its previous handle: the stale commit is rejected as FENCED', async () => {
      const { log, outTopic } = await subject();
      const owned = await joinAll(log);
      const stale = owned.get(0)!;
      const fresh = log.reacquire(0);
      expect(fresh).toBeDefined();
      expect(fresh!.partition).toBe(0);
      await fresh!.fence();
      const rejected = await stale
        .commit([{ topic: outTopic, partition: 0, key: 'k', value: bytes('zombie') }], {
          offset: 4,
          checkpointId: 1,
        })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(rejected).toBeInstanceOf(ContinuumError);
      expect((rejected as ContinuumError).code).toBe('FENCED');
      // The fresh handle commits, and only its record is there.
      await fresh!.commit([{ topic: outTopic, partition: 0, key: 'k', value: bytes('owner') }], {
        offset: 4,
        checkpointId: 2,
      });
      await committedBecomes(fresh!, { offset: 4, checkpointId: 2 });
      expect((await readAll(log, outTopic, 0, 1)).map((r) => str(r.value))).toEqual(['owner']);
    });

    it('reacquire is undefined for a partition this log does not own', async () => {
      const { log } = await subject();
      expect(log.reacquire(0)).toBeUndefined();
    });

    it('leaving the group revokes every owned partition through the listener', async () => {
      const { log } = await subject();
      const revoked: number[] = [];
      let assigned = 0;
      await log.join({
        assigned: () => {
          assigned++;
          return Promise.resolve();
        },
        revoked: (p) => {
          revoked.push(p);
          return Promise.resolve();
        },
      });
      await waitUntil(() => assigned === CONTRACT_PARTITIONS, {
        timeoutMs: options.visibleWithinMs,
        what: 'both partitions assigned',
      });
      await log.leave();
      expect(revoked.sort()).toEqual([0, 1]);
      expect(log.reacquire(0)).toBeUndefined();
    });

    if (options.durable) {
      it('a reopened log serves the appended records, the end offsets and the committed positions', async () => {
        const s = await subject();
        const { log, outTopic } = s;
        await log.append([
          { topic: outTopic, partition: 1, key: 'k', value: bytes('kept') },
          { topic: log.internalTopic, partition: 1, key: 'k', value: bytes('message') },
        ]);
        const owned = await joinAll(log);
        await owned.get(1)!.commit([], { offset: 1, checkpointId: 5 });
        await committedBecomes(owned.get(1)!, { offset: 1, checkpointId: 5 });
        await log.close();
        const again = await s.reopen!();
        cleanups.push(() => again.close());
        expect((await readAll(again, outTopic, 1, 1)).map((r) => str(r.value))).toEqual(['kept']);
        expect(await again.endOffsets([0, 1])).toEqual(
          new Map([
            [0, 0],
            [1, 1],
          ]),
        );
        const ownedAgain = await joinAll(again);
        expect(await ownedAgain.get(1)!.committed()).toEqual({ offset: 1, checkpointId: 5 });
        expect(await ownedAgain.get(0)!.committed()).toEqual({ offset: 0, checkpointId: 0 });
      });
    }
  });
}
