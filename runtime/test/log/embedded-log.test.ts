// The Log contract run against the embedded log, in memory and over a journal directory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedLog } from '../../src/log/embedded-log.js';
import { CONTRACT_OUT_PARTITIONS, CONTRACT_PARTITIONS, describeLogContract } from './log-contract.js';

const outTopic = 'contract-out';

async function openLog(dir?: string): Promise<EmbeddedLog> {
  const log = await EmbeddedLog.open({ dir, partitions: CONTRACT_PARTITIONS });
  await log.createTopic(outTopic, CONTRACT_OUT_PARTITIONS);
  return log;
}

describeLogContract('the in-memory embedded log', async () => ({ log: await openLog(), outTopic }), {
  durable: false,
  visibleWithinMs: 5_000,
});

describeLogContract(
  'the journaled embedded log',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'continuum-embedded-log-'));
    return {
      log: await openLog(dir),
      outTopic,
      reopen: () => openLog(dir),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { durable: true, visibleWithinMs: 5_000 },
);
