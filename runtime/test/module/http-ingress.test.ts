// The request-response ingress kind `io.continuum.http.v1/ingress`: defaults, every setting, and
// errors that name the document, line and key path.
import { describe, expect, test } from 'vitest';
import { ModuleError, formatIssue, parseModule } from '../../src/module/index.js';

const ENDPOINT = `kind: io.statefun.endpoints.v2/http
spec:
  functions: com.example/*
  urlPathTemplate: http://fns:8000/{function.name}
---
`;

function rejection(text: string): string[] {
  try {
    parseModule(text, 'module.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ModuleError);
    return (err as ModuleError).issues.map((i) => formatIssue(i));
  }
  throw new Error('expected the module to be rejected');
}

describe('io.continuum.http.v1/ingress', () => {
  test('defaults: no auth, 1 MiB bodies, 10 s wait (at most 5 min), 24 h retention', () => {
    const module = parseModule(
      `${ENDPOINT}kind: io.continuum.http.v1/ingress\nspec: {id: com.example/requests, port: 8092}\n`,
      'module.yaml',
    );
    expect(module.httpIngresses).toEqual([
      {
        kind: 'io.continuum.http.v1/ingress',
        id: 'com.example/requests',
        port: 8092,
        maxBodyBytes: 1048576,
        defaultTimeoutMs: 10_000,
        maxTimeoutMs: 300_000,
        retentionMs: 86_400_000,
        maxPendingRequests: 10_000,
        source: { file: 'module.yaml', document: 2, line: 6 },
      },
    ]);
    expect(module.warnings).toEqual([]);
  });

  test('every setting', () => {
    const module = parseModule(
      `${ENDPOINT}kind: io.continuum.http.v1/ingress
spec:
  id: com.example/requests
  port: 8092
  auth: {tokenEnv: INVOKE_TOKEN}
  maxBodyBytes: 4096
  defaultTimeout: 2s
  maxTimeout: 1 min
  retention: 1h
  maxPendingRequests: 50
`,
      'module.yaml',
    );
    expect(module.httpIngresses?.[0]).toMatchObject({
      tokenEnv: 'INVOKE_TOKEN',
      maxBodyBytes: 4096,
      defaultTimeoutMs: 2000,
      maxTimeoutMs: 60_000,
      retentionMs: 3_600_000,
      maxPendingRequests: 50,
    });
  });

  test('errors name the document, line and key, and what was expected', () => {
    const issues = rejection(`${ENDPOINT}kind: io.continuum.http.v1/ingress
spec:
  id: requests
  port: 70000
  auth: {token: a, tokenEnv: B}
  defaultTimeout: soon
`);
    expect(issues.join('\n')).toMatch(/document 2.*spec\.id/u);
    expect(issues.join('\n')).toMatch(/spec\.port.*70000.*a TCP port from 0 to 65535/u);
    expect(issues.join('\n')).toMatch(/spec\.defaultTimeout.*soon/u);
    const both = rejection(`${ENDPOINT}kind: io.continuum.http.v1/ingress
spec: {id: com.example/r, port: 1, auth: {token: a, tokenEnv: B}}
`);
    expect(both.join('\n')).toMatch(/spec\.auth.*both token and tokenEnv; expected exactly one/u);
    const short = rejection(`${ENDPOINT}kind: io.continuum.http.v1/ingress
spec: {id: com.example/r, port: 1, retention: 1s, maxTimeout: 1 min}
`);
    expect(short.join('\n')).toMatch(/spec\.retention.*shorter than maxTimeout/u);
  });

  test('its port and id may not clash with another ingress', () => {
    const issues = rejection(`${ENDPOINT}kind: io.statefun.playground.v1/ingress
spec: {port: 8090}
---
kind: io.continuum.http.v1/ingress
spec: {id: com.example/r, port: 8090}
`);
    expect(issues.join('\n')).toMatch(/document 3.*spec\.port.*8090, already used/u);
  });
});
