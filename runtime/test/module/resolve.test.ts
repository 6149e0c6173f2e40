// A function type resolves to the endpoint declared for exactly it, else to its namespace's
// wildcard endpoint; the URL substitutes the type's name only.

import { describe, expect, test } from 'vitest';
import { endpointUrl, parseModule, resolveEndpoint } from '../../src/module/index.js';
import type { HttpEndpointConfig } from '../../src/module/index.js';

const endpoint = (functions: string, url: string): string => `kind: io.statefun.endpoints.v2/http
spec:
  functions: ${functions}
  urlPathTemplate: "${url}"
`;

describe('resolveEndpoint', () => {
  // The wildcard comes first in the file: precedence must not depend on declaration order.
  const module = parseModule(
    [
      endpoint('com.example/*', 'http://shared:8000/{function.name}'),
      endpoint('com.example/greeter', 'http://greeter:8000/'),
      endpoint('org.other/*', 'http://other:8000/{function.name}'),
    ].join('---\n'),
    'module.yaml',
  );

  test('an exact function type beats the namespace wildcard', () => {
    expect(resolveEndpoint(module, 'com.example/greeter')?.urlPathTemplate).toBe('http://greeter:8000/');
  });

  test('other types of the namespace resolve to the wildcard endpoint', () => {
    expect(resolveEndpoint(module, 'com.example/cart')?.functions).toBe('com.example/*');
    expect(resolveEndpoint(module, 'org.other/x')?.functions).toBe('org.other/*');
  });

  test('a namespace is matched whole, not by prefix', () => {
    expect(resolveEndpoint(module, 'com.example.sub/cart')).toBeUndefined();
    expect(resolveEndpoint(module, 'com/example')).toBeUndefined();
  });

  test('a type nobody serves, or a malformed type, resolves to nothing', () => {
    expect(resolveEndpoint(module, 'net.unknown/fn')).toBeUndefined();
    expect(resolveEndpoint(module, 'no-slash')).toBeUndefined();
    expect(resolveEndpoint(module, '/name')).toBeUndefined();
  });

  test('hand-built, unfrozen module configs resolve the same way', () => {
    const base = module.endpoints[0]!;
    const exact: HttpEndpointConfig = {
      ...base,
      functions: 'com.example/cart',
      match: { kind: 'exact', typename: 'com.example/cart' },
      urlPathTemplate: 'http://cart/',
    };
    const endpoints = [base, exact];
    expect(resolveEndpoint({ endpoints }, 'com.example/cart')).toBe(exact);
    expect(resolveEndpoint({ endpoints }, 'com.example/other')).toBe(base);
  });
});

describe('endpointUrl', () => {
  test('replaces {function.name} with the name part only, keeping the rest verbatim', () => {
    const template = {
      urlPathTemplate: 'https://fns.example.com:8443/v1/{function.name}?fn={function.name}#frag',
    };
    expect(endpointUrl(template, 'com.example/greeter')).toBe(
      'https://fns.example.com:8443/v1/greeter?fn=greeter#frag',
    );
  });

  test('a template without the placeholder is used as it is', () => {
    expect(endpointUrl({ urlPathTemplate: 'http://fns:8000/statefun' }, 'com.example/greeter')).toBe(
      'http://fns:8000/statefun',
    );
  });

  test('unix-socket templates keep their socket path', () => {
    expect(endpointUrl({ urlPathTemplate: 'http+unix:///run/fns.sock/{function.name}' }, 'a.b/c')).toBe(
      'http+unix:///run/fns.sock/c',
    );
  });
});
