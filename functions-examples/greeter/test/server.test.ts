import { describe, expect, it } from 'vitest';
import { serveFromEnv } from '@continuum/sdk';
import {
  decodeFromFunction,
  decodeKafkaProducerRecord,
  encodeString,
  encodeToFunction,
} from '@continuum/sdk/protocol';
import { functions } from '../src/index.js';

describe('the greeter service', () => {
  it('serves both greeters over HTTP on the configured port', async () => {
    const server = await serveFromEnv(functions, {
      env: { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' },
      closeOnSignals: false,
    });
    try {
      const body = encodeToFunction({
        invocation: {
          target: { namespace: 'example', type: 'greeter', id: 'dan' },
          state: [{ stateName: 'seen' }],
          invocations: [
            {
              argument: { typename: 'io.statefun.types/string', hasValue: true, value: encodeString('Dan') },
            },
          ],
        },
      });
      const res = await fetch(`${server.url}greeter`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.from(body),
      });
      expect(res.status).toBe(200);
      const egress = decodeFromFunction(new Uint8Array(await res.arrayBuffer())).invocationResult!
        .outgoingEgresses[0]!;
      expect(Buffer.from(decodeKafkaProducerRecord(egress.argument.value).valueBytes).toString()).toBe(
        'Hello Dan! Welcome.',
      );
    } finally {
      await server.close();
    }
  });
});
