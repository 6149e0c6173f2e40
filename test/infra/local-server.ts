// What the harness's own server processes (the Kafka broker, redis-server) share: the
// running → killed → stopped life cycle, restart on the same ports and data, and a log tail that
// outlives the process.
import { rm } from 'node:fs/promises';
import { InfraError } from './errors.js';
import type { ManagedProcess } from './managed-process.js';
import { assertPortFree } from './ports.js';

export abstract class LocalServer {
  readonly mode = 'local' as const;
  startupMs = 0;
  protected process: ManagedProcess | undefined;
  protected state: 'running' | 'killed' | 'stopped' = 'running';
  private lastLog = '';

  /**
   * @param dir scratch directory with the server's data; removed by stop()
   * @param keepLogLines how many log lines to keep once the process is gone
   */
  protected constructor(
    protected readonly dir: string,
    private readonly keepLogLines: number,
  ) {}

  /** Starts the server process on its ports and data and waits until it serves. */
  protected abstract launch(): Promise<void>;
  /** The server's name in messages, e.g. "the Kafka broker at 127.0.0.1:9092". */
  protected abstract describe(): string;
  /** The loopback ports the server listens on, with what each is for. */
  protected abstract listeners(): readonly (readonly [port: number, what: string])[];

  /** Stops the process gracefully and starts it again on the same ports and data. */
  async restart(): Promise<void> {
    if (this.state === 'stopped') {
      throw new InfraError(
        'STOPPED',
        `restart() of ${this.describe()} after stop(): its data is gone; start a new one.`,
      );
    }
    await this.endProcess('terminate');
    for (const [port, what] of this.listeners()) await assertPortFree(port, `the restarted ${what}`);
    await this.launch();
  }

  /** SIGKILLs the process; restart() brings it back. */
  async kill(): Promise<void> {
    if (this.state === 'stopped') return;
    await this.endProcess('kill');
    this.state = 'killed';
  }

  /** Stops the process and removes its data. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    await this.endProcess('terminate');
    await rm(this.dir, { recursive: true, force: true });
  }

  logTail(n = 40): string {
    if (this.process?.running === true) return this.process.logTail(n);
    const lines = this.lastLog.split('\n');
    return lines.slice(Math.max(0, lines.length - n)).join('\n');
  }

  private async endProcess(how: 'terminate' | 'kill'): Promise<void> {
    if (this.process === undefined) return;
    await (how === 'kill' ? this.process.kill() : this.process.terminate());
    this.lastLog = this.process.logTail(this.keepLogLines);
  }
}
