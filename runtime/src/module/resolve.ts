// Function type → endpoint resolution (an exact type beats a namespace wildcard) and the URL
// an invocation of a function type is posted to.

import type { HttpEndpointConfig, ModuleConfig } from './types.js';

interface EndpointIndex {
  exact: ReadonlyMap<string, HttpEndpointConfig>;
  namespace: ReadonlyMap<string, HttpEndpointConfig>;
}

// Keyed by the (frozen) endpoints array, so the index lives exactly as long as the module.
const indexes = new WeakMap<readonly HttpEndpointConfig[], EndpointIndex>();

function indexOf(endpoints: readonly HttpEndpointConfig[]): EndpointIndex {
  let index = indexes.get(endpoints);
  if (index === undefined) {
    const exact = new Map<string, HttpEndpointConfig>();
    const namespace = new Map<string, HttpEndpointConfig>();
    for (const endpoint of endpoints) {
      // First declaration wins; the loader rejects duplicates, hand-built modules may not.
      if (endpoint.match.kind === 'exact') {
        if (!exact.has(endpoint.match.typename)) exact.set(endpoint.match.typename, endpoint);
      } else if (!namespace.has(endpoint.match.namespace)) {
        namespace.set(endpoint.match.namespace, endpoint);
      }
    }
    index = { exact, namespace };
    if (Object.isFrozen(endpoints)) indexes.set(endpoints, index);
  }
  return index;
}

/**
 * The endpoint that serves `functionType` (`namespace/name`): an endpoint declared for exactly
 * that type, else one declared for `namespace/*`, else undefined.
 *
 * @example resolveEndpoint(module, 'com.example/greeter')?.urlPathTemplate
 */
export function resolveEndpoint(
  module: Pick<ModuleConfig, 'endpoints'>,
  functionType: string,
): HttpEndpointConfig | undefined {
  const index = indexOf(module.endpoints);
  const exact = index.exact.get(functionType);
  if (exact !== undefined) return exact;
  const slash = functionType.lastIndexOf('/');
  if (slash <= 0) return undefined;
  return index.namespace.get(functionType.slice(0, slash));
}

/**
 * The URL to POST invocations of `functionType` to: the endpoint's template with every
 * `{function.name}` replaced by the name part of the type (not the namespace); the rest verbatim.
 *
 * @example endpointUrl(endpoint, 'com.example/greeter') // 'http://fns:8000/greeter'
 */
export function endpointUrl(
  endpoint: Pick<HttpEndpointConfig, 'urlPathTemplate'>,
  functionType: string,
): string {
  const name = functionType.slice(functionType.lastIndexOf('/') + 1);
  return endpoint.urlPathTemplate.replaceAll('{function.name}', name);
}
