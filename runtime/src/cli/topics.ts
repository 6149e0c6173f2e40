// `statefun produce` and `statefun consume`: write records to the Kafka ingress topics of a module
// running in `statefun dev` and read its Kafka egress topics, through the dev runtime's admin API.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_ADMIN_URL } from '../defaults.js';
import { ContinuumError } from '../errors.js';

type Out = (text: string) => void;

/** Calls the admin API of a running runtime (`--admin`, `--token`); main.ts owns the details. */
export type AdminFetch = (
  values: { admin?: unknown; token?: unknown },
  path: string,
  init?: RequestInit,
) => Promise<unknown>;

export const PRODUCE_HELP = `statefun produce <topic> --key KEY (--string TEXT | --json TEXT | --file PATH) [options]

Writes one record to a Kafka ingress topic of the module that \`statefun dev\` runs. The module's
Kafka ingress routes it exactly as it would route a record read from Kafka: the key is the function
id, the value bytes become the argument with the ingress's valueType. With \`statefun dev --kafka\`
the record goes to that broker.

Value options (one of):
      --string TEXT      the UTF-8 bytes of TEXT, as they are (as kafka-console-producer writes them)
      --json TEXT        the UTF-8 bytes of TEXT after checking that it is JSON
      --file PATH        the bytes of a file
Options:
      --key KEY          the record key: the id of the function it goes to (required)
      --header K=V       a record header (repeatable)
      --admin URL        admin API of the runtime (default ${DEFAULT_ADMIN_URL})
      --token TOKEN      admin token (or CONTINUUM_ADMIN_TOKEN)
  -h, --help             this help
`;

export const CONSUME_HELP = `statefun consume <topic> [--follow] [options]

Prints the records of a Kafka topic of the module that \`statefun dev\` runs: the topics functions
write with a Kafka egress, and the ingress topics. One line per record: partition:offset, key,
value (decoded: JSON as JSON, the primitive types of an ingress's valueType, other UTF-8 as text,
else base64) and headers. With \`statefun dev --kafka\` it reads the topic from that broker.

Options:
  -f, --follow           keep printing new records until Ctrl-C
      --from CURSOR      start at partition:offset pairs (e.g. 0:42); default: the first record
      --max N            print at most N records, then exit (default: all; with --follow: no limit)
      --json             one JSON object per record instead of the text line
      --admin URL        admin API of the runtime (default ${DEFAULT_ADMIN_URL})
      --token TOKEN      admin token (or CONTINUUM_ADMIN_TOKEN)
  -h, --help             this help
`;

function usage(message: string): ContinuumError {
  return new ContinuumError('USAGE', message);
}

function parse(
  args: string[],
  options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>,
): { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args,
      options: {
        ...options,
        admin: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (e) {
    throw usage((e as Error).message);
  }
}

const topicPath = (topic: string): string => `/v1/topics/${encodeURIComponent(topic)}/records`;

export async function produce(args: string[], out: Out, adminFetch: AdminFetch): Promise<number> {
  const { values, positionals } = parse(args, {
    key: { type: 'string' },
    string: { type: 'string' },
    json: { type: 'string' },
    file: { type: 'string' },
    header: { type: 'string', multiple: true },
  });
  if (values.help === true) {
    out(PRODUCE_HELP);
    return 0;
  }
  const [topic, ...extra] = positionals;
  if (topic === undefined)
    throw usage('produce needs a topic: statefun produce <topic> --key KEY --string TEXT');
  if (extra.length > 0)
    throw usage(`produce takes one topic; unexpected ${extra.map((e) => `"${e}"`).join(' ')}`);
  if (typeof values.key !== 'string')
    throw usage('produce needs --key KEY (the id of the function the ingress routes the record to)');
  const given = (['string', 'json', 'file'] as const).filter((k) => typeof values[k] === 'string');
  if (given.length !== 1)
    throw usage(
      given.length === 0
        ? 'give the value with one of --string, --json or --file'
        : `give the value with one of --string, --json or --file, not ${given.map((g) => `--${g}`).join(' and ')}`,
    );
  let bytes: Buffer;
  if (typeof values.file === 'string') {
    try {
      bytes = readFileSync(values.file);
    } catch (e) {
      throw usage(`--file ${values.file} cannot be read: ${(e as Error).message}`);
    }
  } else if (typeof values.json === 'string') {
    try {
      bytes = Buffer.from(JSON.stringify(JSON.parse(values.json)));
    } catch {
      throw usage(`--json value is not valid JSON: ${values.json}`);
    }
  } else {
    bytes = Buffer.from(String(values.string));
  }
  const headers: Record<string, string> = {};
  for (const h of (values.header as string[] | undefined) ?? []) {
    const at = h.indexOf('=');
    if (at <= 0) throw usage(`--header needs NAME=VALUE, not "${h}"`);
    headers[h.slice(0, at)] = h.slice(at + 1);
  }
  await adminFetch(values, topicPath(topic), {
    method: 'POST',
    body: JSON.stringify({
      records: [{ key: values.key, valueBase64: bytes.toString('base64'), headers }],
    }),
  });
  out(`wrote 1 record (${bytes.length} bytes, key ${values.key}) to ${topic}\n`);
  return 0;
}

/** One record as `GET /v1/topics/:topic/records` returns it. */
interface TopicRecord {
  partition: number;
  offset: number;
  timestamp: string;
  key: string | null;
  headers: Record<string, string>;
  value?: unknown;
  text?: string;
  base64?: string;
}

/** A record as one line of text: where it is, its key, its value as decoded, its headers. */
export function formatRecord(r: TopicRecord): string {
  const value =
    'value' in r
      ? `value=${JSON.stringify(r.value)}`
      : r.text !== undefined
        ? `text=${JSON.stringify(r.text)}`
        : `base64=${r.base64 ?? ''}`;
  const headers = Object.keys(r.headers).length > 0 ? `  headers=${JSON.stringify(r.headers)}` : '';
  return `${r.partition}:${r.offset}  key=${JSON.stringify(r.key)}  ${value}${headers}\n`;
}

/**
 * Prints a topic's records; with `--follow`, keeps polling until `signal` aborts (Ctrl-C in the
 * command line).
 */
export async function consume(
  args: string[],
  out: Out,
  adminFetch: AdminFetch,
  signal?: AbortSignal,
): Promise<number> {
  const { values, positionals } = parse(args, {
    follow: { type: 'boolean', short: 'f' },
    from: { type: 'string' },
    max: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help === true) {
    out(CONSUME_HELP);
    return 0;
  }
  const [topic, ...extra] = positionals;
  if (topic === undefined) throw usage('consume needs a topic: statefun consume <topic> [--follow]');
  if (extra.length > 0)
    throw usage(`consume takes one topic; unexpected ${extra.map((e) => `"${e}"`).join(' ')}`);
  let max = Infinity;
  if (values.max !== undefined) {
    max = Number(values.max);
    if (!Number.isInteger(max) || max < 1)
      throw usage(`--max must be a positive integer, not ${String(values.max)}`);
  }
  const follow = values.follow === true;
  const aborted = (): boolean => signal?.aborted === true;
  let cursor = typeof values.from === 'string' ? values.from : '';
  let printed = 0;
  for (;;) {
    const limit = Math.min(500, max - printed);
    const query = new URLSearchParams({ limit: String(limit), ...(cursor === '' ? {} : { from: cursor }) });
    const page = (await adminFetch(values, `${topicPath(topic)}?${query.toString()}`)) as {
      next: string;
      records: TopicRecord[];
    };
    for (const r of page.records) out(values.json === true ? `${JSON.stringify(r)}\n` : formatRecord(r));
    printed += page.records.length;
    cursor = page.next;
    if (printed >= max) return 0;
    if (page.records.length === limit) continue;
    if (!follow || aborted()) return 0;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, 250);
      function done(): void {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
    if (aborted()) return 0;
  }
}

/**
 * The broker list of `statefun dev --kafka BROKERS` (comma-separated host:port); undefined when the
 * option is absent (the topics are embedded).
 */
export function devKafkaBrokers(value: string | boolean | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const brokers = String(value)
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  const bad = brokers.filter((b) => !/^[^\s:/]+:\d{1,5}$/.test(b));
  if (brokers.length === 0 || bad.length > 0)
    throw usage(
      `--kafka needs comma-separated host:port bootstrap servers (e.g. 127.0.0.1:9092), not "${String(value)}"`,
    );
  return brokers;
}
