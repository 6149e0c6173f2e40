// The playground ingress takes StateFun's `Content-Type: application/vnd.<namespace>/<name>` (two
// slashes, which HTTP media-type parsers reject) and passes the body through verbatim; bad
// addresses, typenames, content types and oversized bodies are refused with what was wrong.
import { describe, expect, it } from 'vitest';
import type { FunctionTarget } from '../../src/core/routing.js';
import { buildPlaygroundIngress } from '../../src/playground/playground-ingress.js';
import type { IngressMessage } from '../../src/observers.js';

function ingressApp(bodyLimit?: number): {
  app: ReturnType<typeof buildPlaygroundIngress>;
  sent: IngressMessage[];
} {
  const sent: IngressMessage[] = [];
  const app = buildPlaygroundIngress({
    port: 0,
    bodyLimit,
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

  it('ignores content-type parameters and takes an encoded string without a vnd type', async () => {
    const { app, sent } = ingressApp();
    const withParams = await app.inject({
      method: 'POST',
      url: '/example/person/Al',
      headers: { 'content-type': 'application/vnd.io.statefun.types/int; charset=binary' },
      payload: Buffer.from([0x0d, 0x2a, 0, 0, 0]),
    });
    const encoded = await app.inject({
      method: 'PUT',
      url: '/example/person/Al',
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.from([0x0a, 0x02, 0x68, 0x69]),
    });
    const none = await app.inject({ method: 'PUT', url: '/example/person/Al' });
    expect([withParams.statusCode, encoded.statusCode, none.statusCode]).toEqual([200, 200, 200]);
    expect(sent.map((m) => m.argument.typename)).toEqual([
      'io.statefun.types/int',
      'io.statefun.types/string',
      'io.statefun.types/string',
    ]);
    expect([...sent[0]!.argument.value]).toEqual([0x0d, 0x2a, 0, 0, 0]);
    expect([...sent[1]!.argument.value]).toEqual([0x0a, 0x02, 0x68, 0x69]);
    await app.close();
  });

  it.each([
    ['application/json', '{"name": "Bob"}'],
    ['text/plain', 'hi'],
    ['application/x-www-form-urlencoded', 'name=Bob'],
    [undefined, 'raw'],
  ])(
    'answers 415 naming the accepted content types for %s with a body that is no string value',
    async (type, payload) => {
      const { app, sent } = ingressApp();
      const res = await app.inject({
        method: 'PUT',
        url: '/example/person/Bob',
        headers: type === undefined ? {} : { 'content-type': type },
        payload,
      });
      expect(res.statusCode).toBe(415);
      const { error } = res.json<{ error: string }>();
      expect(error).toContain(type === undefined ? 'no Content-Type' : `Content-Type "${type}"`);
      expect(error).toContain('application/vnd.<namespace>/<Type>');
      expect(error).toContain('e.g. application/vnd.example/GreetRequest');
      expect(sent).toEqual([]);
      await app.close();
    },
  );

  it.each([
    ['/example/person/', 'the id is empty'],
    ['/example/person', 'not an address'],
    ['/example/person/a%00b', 'the id "a\\u0000b" contains control characters'],
    ['/example/person/line%0Abreak', 'contains control characters'],
    ['/example/per%0Dson/x', 'the type "per\\rson" contains control characters'],
    ['/exa%2Fmple/person/x', 'the namespace "exa/mple" contains "/"'],
    ['/example/person/a/b', 'not an address'],
  ])('answers 400 for the address %s', async (url, says) => {
    const { app, sent } = ingressApp();
    const res = await app.inject({
      method: 'PUT',
      url,
      headers: { 'content-type': 'application/vnd.example/T' },
      payload: 'x',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: string }>().error).toContain(says);
    expect(res.json<{ error: string }>().error).toContain('/<namespace>/<type>/<id>');
    expect(sent).toEqual([]);
    await app.close();
  });

  it.each([
    ['application/vnd.', 'it is empty'],
    ['application/vnd.GreetRequest', 'it has no "/"'],
    ['application/vnd.a/b/c', 'it has 2 "/" characters'],
    ['application/vnd./T', 'it has an empty namespace'],
    ['application/vnd.example/', 'it has an empty name'],
    ['application/vnd.exa mple/T', 'whitespace or control characters'],
  ])('answers 400 for the malformed typename in %s', async (type, says) => {
    const { app, sent } = ingressApp();
    const res = await app.inject({
      method: 'PUT',
      url: '/example/person/x',
      headers: { 'content-type': type },
      payload: 'x',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: string }>().error).toContain(says);
    expect(res.json<{ error: string }>().error).toContain('application/vnd.example/GreetRequest');
    expect(sent).toEqual([]);
    await app.close();
  });

  it('answers 400 when a built-in type is named but the body is not its encoding', async () => {
    const { app, sent } = ingressApp();
    const res = await app.inject({
      method: 'PUT',
      url: '/example/person/x',
      headers: { 'content-type': 'application/vnd.io.statefun.types/int' },
      payload: '42',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: string }>().error).toContain('not a valid io.statefun.types/int value');
    expect(sent).toEqual([]);
    await app.close();
  });

  it('answers 413 stating the configured body limit', async () => {
    const { app, sent } = ingressApp(1024);
    const small = await app.inject({
      method: 'PUT',
      url: '/example/person/x',
      headers: { 'content-type': 'application/vnd.example/T' },
      payload: Buffer.alloc(1024, 0x61),
    });
    const large = await app.inject({
      method: 'PUT',
      url: '/example/person/x',
      headers: { 'content-type': 'application/vnd.example/T' },
      payload: Buffer.alloc(1025, 0x61),
    });
    expect([small.statusCode, large.statusCode]).toEqual([200, 413]);
    expect(large.json<{ error: string }>().error).toContain('larger than the limit of 1024 bytes');
    expect(large.json<{ error: string }>().error).toContain('bodyLimit');
    expect(sent).toHaveLength(1);
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
