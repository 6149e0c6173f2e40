// Crash points for the chaos tests, preloaded into a `statefun` process by the harness
// (`node --import <this module>?afterStage=P&afterCommit=P`, see crashPointArgs): through the
// runtime's test seam it makes the process SIGKILL itself with probability P per checkpoint, between
// the Redis stage and the Kafka commit (afterStage) or between the commit and the promote (afterCommit).
import { installTaskHooks } from '@continuum/runtime/test-hooks';

const params = new URL(import.meta.url).searchParams;

function probability(name: string): number {
  const text = params.get(name) ?? '0';
  const p = Number(text);
  if (text.trim() === '' || !(p >= 0 && p <= 1))
    throw new Error(`crash points: ${name}=${text} is not a probability from 0 to 1`);
  return p;
}

const afterStage = probability('afterStage');
const afterCommit = probability('afterCommit');
const maybeDie = (p: number): void => {
  if (p > 0 && Math.random() < p) process.kill(process.pid, 'SIGKILL');
};
if (afterStage > 0 || afterCommit > 0)
  installTaskHooks({ afterStage: () => maybeDie(afterStage), afterCommit: () => maybeDie(afterCommit) });
