// The playground ingress takes StateFun's `Content-Type: application/vnd.<namespace>/<name>` (two
// slashes, which HTTP media-type parsers reject) and passes the body through verbatim.
import { describe, expect, it } from 'vitest';
import type { FunctionTarget } from '../../src/core/routing.js';
import { buildPlaygroundIngress } from '../../src/playground/playground-ingress.js';
import type { IngressMessage } from '../../src/runtime.js';

function ingressApp(): { app: ReturnType<typeof buildPlaygroundIngress>; sent: IngressMessage[] } {
  const sent: IngressMessage[] = [];
  const app = buildPlaygroundIngress({
    port: 0,
    functions: { resolve: (t) => (t === 'example/person' ? ({} as FunctionTarget) : undefined) },
    send: (messages) => {
      sent.push(...messages);
      return Promise.resolve();
    },
  });
  return { app, sent };
}

describe('playground ingress', () => {
  it('accepts a typename with a namespace in the content type and sends the body verbatim', async () => {
    const { app, sent } = ingressApp();
    const res = await app.inject({
      method: 'PUT',
      url: '/example/person/Bob',
      headers: { 'content-type': 'application/vnd.example/GreetRequest' },
      payload: '{"name": "Bob"}',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      accepted: true,
      target: 'example/person/Bob',
      typename: 'example/GreetRequest',
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.target).toEqual({ namespace: 'example', type: 'person', id: 'Bob' });
    expect(sent[0]!.argument.typename).toBe('example/GreetRequest');
    expect(Buffer.from(sent[0]!.argument.value).toString('utf8')).toBe('{"name": "Bob"}');
    await app.close();
  });

  it('ignores content-type parameters and defaults to the string typename without a vnd type', async () => {
    const { app, sent } = ingressApp();
    const withParams = await app.inject({
      method: 'POST',
      url: '/example/person/Al',
      headers: { 'content-type': 'application/vnd.io.statefun.types/int; charset=binary' },
      payload: Buffer.from([0x08, 0x2a]),
    });
    const plain = await app.inject({
      method: 'PUT',
      url: '/example/person/Al',
      headers: { 'content-type': 'text/plain' },
      payload: 'hi',
    });
    const none = await app.inject({ method: 'PUT', url: '/example/person/Al', payload: Buffer.from('raw') });
    expect([withParams.statusCode, plain.statusCode, none.statusCode]).toEqual([200, 200, 200]);
    expect(sent.map((m) => m.argument.typename)).toEqual([
      'io.statefun.types/int',
      'io.statefun.types/string',
      'io.statefun.types/string',
    ]);
    expect([...sent[0]!.argument.value]).toEqual([0x08, 0x2a]);
    expect(Buffer.from(sent[2]!.argument.value).toString('utf8')).toBe('raw');
    await app.close();
  });

  it('answers 404 for a function type no endpoint serves and sends nothing', async () => {
    const { app, sent } = ingressApp();
    const res = await app.inject({
      method: 'PUT',
      url: '/example/nobody/x',
      headers: { 'content-type': 'application/vnd.example/T' },
      payload: 'x',
    });
    expect(res.statusCode).toBe(404);
    expect(res.json<{ error: string }>().error).toContain('example/nobody');
    expect(sent).toEqual([]);
    await app.close();
  });
});
