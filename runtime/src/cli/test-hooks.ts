// The seam through which a test harness gives `statefun dev` and `statefun run` partition-task
// hooks (crash points): a module preloaded with `node --import` installs them before the command
// starts. Nothing in production installs any, and the commands read no environment for them.
import type { TaskHooks } from '../core/partition-task.js';

let installed: Readonly<TaskHooks> | undefined;

/**
 * Makes the next `statefun dev` or `statefun run` of this process call `hooks` (replacing hooks
 * installed before). For test harnesses only.
 */
export function installTaskHooks(hooks: TaskHooks): void {
  installed = Object.freeze({ ...hooks });
}

/** The hooks a test harness installed, or undefined (always, in production). */
export function installedTaskHooks(): Readonly<TaskHooks> | undefined {
  return installed;
}
