// Checks that need the whole module: one endpoint per function type or namespace, unique ingress
// and egress ids and playground ports, and Kafka ingress targets that some endpoint serves.

import { resolveEndpoint } from './resolve.js';
import { PLAYGROUND_EGRESS_ID, PLAYGROUND_INGRESS_ID } from './playground.js';
import type { ComponentScope, PathSegment } from './scope.js';
import type {
  HttpEndpointConfig,
  HttpIngressConfig,
  KafkaEgressConfig,
  KafkaIngressConfig,
  PlaygroundEgressConfig,
  PlaygroundIngressConfig,
} from './types.js';

/** A validated component with the scope its messages refer to. */
export type ComponentEntry =
  | { type: 'endpoint'; config: HttpEndpointConfig; scope: ComponentScope }
  | { type: 'kafka-ingress'; config: KafkaIngressConfig; scope: ComponentScope }
  | { type: 'kafka-egress'; config: KafkaEgressConfig; scope: ComponentScope }
  | { type: 'playground-ingress'; config: PlaygroundIngressConfig; scope: ComponentScope }
  | { type: 'playground-egress'; config: PlaygroundEgressConfig; scope: ComponentScope }
  | { type: 'http-ingress'; config: HttpIngressConfig; scope: ComponentScope };

interface Claim {
  scope: ComponentScope;
  path: readonly PathSegment[];
}

/**
 * Reports cross-document problems into the entries' scopes. `endpointsComplete` is false when an
 * endpoint document failed on its own: unserved targets are then not reported, as they may be
 * served by the broken endpoint.
 */
export function checkModule(
  entries: readonly ComponentEntry[],
  options: { endpointsComplete: boolean },
): void {
  const endpointClaims = new Map<string, Claim>();
  const ingressIds = new Map<string, Claim>();
  const egressIds = new Map<string, Claim>();
  const ports = new Map<number, Claim>();
  const endpoints: HttpEndpointConfig[] = [];

  const claim = <K>(registry: Map<K, Claim>, key: K, at: Claim, what: string): boolean => {
    const first = registry.get(key);
    if (first === undefined) {
      registry.set(key, at);
      return true;
    }
    at.scope.error(
      at.path,
      `found ${what} again, already declared at ${describeClaim(first)}; ${expectedOnce(what)}`,
    );
    return false;
  };

  for (const entry of entries) {
    switch (entry.type) {
      case 'endpoint': {
        const { match } = entry.config;
        const key = match.kind === 'exact' ? `type:${match.typename}` : `namespace:${match.namespace}`;
        const what =
          match.kind === 'exact'
            ? `an endpoint for function type ${match.typename}`
            : `an endpoint for every function of namespace ${match.namespace} (${match.namespace}/*)`;
        if (claim(endpointClaims, key, { scope: entry.scope, path: ['functions'] }, what)) {
          endpoints.push(entry.config);
        }
        break;
      }
      case 'kafka-ingress':
        claim(
          ingressIds,
          entry.config.id,
          { scope: entry.scope, path: ['id'] },
          `ingress id ${entry.config.id}`,
        );
        break;
      case 'kafka-egress':
        claim(
          egressIds,
          entry.config.id,
          { scope: entry.scope, path: ['id'] },
          `egress id ${entry.config.id}`,
        );
        break;
      case 'playground-ingress':
        claim(
          ingressIds,
          PLAYGROUND_INGRESS_ID,
          { scope: entry.scope, path: [] },
          `a playground ingress (fixed id ${PLAYGROUND_INGRESS_ID})`,
        );
        claimPort(ports, entry.config.port, entry.scope);
        break;
      case 'playground-egress':
        claim(
          egressIds,
          PLAYGROUND_EGRESS_ID,
          { scope: entry.scope, path: [] },
          `a playground egress (fixed id ${PLAYGROUND_EGRESS_ID})`,
        );
        claimPort(ports, entry.config.port, entry.scope);
        break;
      case 'http-ingress':
        claim(
          ingressIds,
          entry.config.id,
          { scope: entry.scope, path: ['id'] },
          `ingress id ${entry.config.id}`,
        );
        claimPort(ports, entry.config.port, entry.scope);
        break;
    }
  }

  if (!options.endpointsComplete) return;
  const module = { endpoints };
  for (const entry of entries) {
    if (entry.type !== 'kafka-ingress') continue;
    entry.config.topics.forEach((route, topicIndex) => {
      route.targets.forEach((target, targetIndex) => {
        if (resolveEndpoint(module, target) !== undefined) return;
        const namespace = target.slice(0, target.indexOf('/'));
        entry.scope.error(
          ['topics', topicIndex, 'targets', targetIndex],
          `found ${target}, but no endpoint serves this function type, so messages to it could never be delivered; ` +
            `expected an io.statefun.endpoints.v2/http document with functions: ${target} (or ${namespace}/*)`,
        );
      });
    });
  }
}

function claimPort(ports: Map<number, Claim>, port: number, scope: ComponentScope): void {
  if (port === 0) return; // 0 asks the OS for a free port each time: no clash possible.
  const first = ports.get(port);
  if (first === undefined) {
    ports.set(port, { scope, path: ['port'] });
    return;
  }
  scope.error(
    ['port'],
    `found port ${port}, already used by ${first.scope.kind} at ${describeClaim(first)}; ` +
      'expected a different port for each playground ingress and egress and each HTTP ingress',
  );
}

function describeClaim(claim: Claim): string {
  const line = claim.scope.lineOf(claim.path);
  return `${claim.scope.describe(claim.path)} in document ${claim.scope.document.number}${line === undefined ? '' : ` (line ${line})`}`;
}

function expectedOnce(what: string): string {
  if (what.startsWith('an endpoint')) {
    return 'expected one endpoint per function type and per namespace wildcard: remove or merge one of them';
  }
  return 'expected each id once: rename or remove one of them';
}
