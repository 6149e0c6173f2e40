#!/usr/bin/env node
// Runs one companion command of `statefun dev` and makes sure it never outlives the runtime.
// `statefun dev` starts this wrapper as the leader of a new process group and keeps the write end
// of its stdin: EOF on stdin means the runtime is gone (even after SIGKILL), and the wrapper then
// ends its whole group (the command and anything it started). SIGTERM/SIGINT do the same.
// Usage: companion-wrapper.js <command> [args...]
import { spawn } from 'node:child_process';

const GRACE_MS = 4000;
const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  process.stderr.write('companion-wrapper: no command given\n');
  process.exit(2);
}

const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let stopping = false;

/** Ends the process group this wrapper leads (the command and its children), then itself. */
function stop() {
  if (stopping) return;
  stopping = true;
  signalGroup('SIGTERM');
  setTimeout(() => {
    signalGroup('SIGKILL');
    process.exit(1);
  }, GRACE_MS);
}

function signalGroup(signal) {
  try {
    // The wrapper's own SIGTERM handler ignores the repeat; SIGKILL ends it last.
    process.kill(-process.pid, signal);
  } catch {
    child.kill(signal);
  }
}

child.on('error', (err) => {
  process.stderr.write(`cannot start ${command}: ${err.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('SIGHUP', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
