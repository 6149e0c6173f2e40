// Runs the `statefun` command in-process, as the CLI tests drive it: exit code and both streams.
import { main } from '../../src/cli/main.js';

export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(
    argv,
    (t) => void (out += t),
    (t) => void (err += t),
  );
  return { code, out, err };
}
