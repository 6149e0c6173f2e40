// What a platform team checks before accepting the chart: hardened pods, standard labels, Services
// that select real pods, function services as declared, opt-ins off by default, and a durable try-out Redis.
import { beforeAll, describe, expect, test } from 'vitest';
import type { IDeployment, IStatefulSet } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IConfigMap, IPodTemplateSpec, IService } from 'kubernetes-models/v1';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import {
  ciValues,
  find,
  firstContainer,
  ofKind,
  podSpec,
  render,
  valueSets,
  type Rendered,
} from './support/helm.js';

const workloadKinds = new Set(['Deployment', 'StatefulSet']);

function workloads(rendered: readonly Rendered[]): (IDeployment | IStatefulSet)[] {
  return rendered
    .filter((r) => workloadKinds.has(r.object.kind))
    .map((r) => r.object as IDeployment | IStatefulSet);
}

function podTemplates(rendered: readonly Rendered[]): { owner: string; template: IPodTemplateSpec }[] {
  return workloads(rendered).map((w) => ({
    owner: `${w.kind}/${w.metadata!.name}`,
    template: w.spec!.template,
  }));
}

function moduleOf(rendered: readonly Rendered[]): string {
  return find<IConfigMap>(rendered, 'ConfigMap', 'demo-continuum-module').data!['module.yaml']!;
}

function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

const renders = new Map<string, Rendered[]>();

beforeAll(async () => {
  for (const set of valueSets) renders.set(set.name, await render({ files: set.files }));
});

describe.each(valueSets)('value set "$name"', ({ name }) => {
  test('every pod runs as non-root with RuntimeDefault seccomp, no privilege escalation and no capabilities', () => {
    for (const { owner, template } of podTemplates(renders.get(name)!)) {
      const pod = template.spec!;
      expect(pod.securityContext?.runAsNonRoot, owner).toBe(true);
      expect(pod.securityContext?.runAsUser, owner).toBeGreaterThan(0);
      expect(pod.securityContext?.seccompProfile, owner).toEqual({ type: 'RuntimeDefault' });
      expect(pod.automountServiceAccountToken, owner).toBe(false);
      for (const container of pod.containers) {
        expect(container.securityContext?.allowPrivilegeEscalation, owner).toBe(false);
        expect(container.securityContext?.capabilities, owner).toEqual({ drop: ['ALL'] });
        expect(container.resources?.requests, owner).toBeDefined();
        expect(container.resources?.limits?.memory, owner).toBeDefined();
      }
    }
  });

  test('every container but the try-out Kafka has a read-only root filesystem', () => {
    for (const { owner, template } of podTemplates(renders.get(name)!)) {
      for (const container of template.spec!.containers) {
        const expected = container.name !== 'kafka';
        expect(
          container.securityContext?.readOnlyRootFilesystem,
          `${owner} container ${container.name}`,
        ).toBe(expected);
      }
    }
  });

  test('every object carries the standard app.kubernetes.io labels', () => {
    for (const { object } of renders.get(name)!) {
      expect(object.metadata.labels, `${object.kind}/${object.metadata.name}`).toMatchObject({
        'app.kubernetes.io/name': 'continuum',
        'app.kubernetes.io/instance': 'demo',
        'app.kubernetes.io/version': '0.1.0',
        'app.kubernetes.io/managed-by': 'Helm',
        'app.kubernetes.io/part-of': 'continuum',
        'helm.sh/chart': 'continuum-0.1.0',
      });
      expect(object.metadata.labels?.['app.kubernetes.io/component']).toMatch(
        /^(runtime|function|kafka|redis)$/,
      );
    }
  });

  test('every workload selects its own pods, and every Service selects the pods of exactly one workload', () => {
    const rendered = renders.get(name)!;
    const all = workloads(rendered);
    for (const w of all) {
      expect(
        selects(w.spec!.selector.matchLabels!, w.spec!.template.metadata?.labels),
        w.metadata!.name,
      ).toBe(true);
    }
    for (const service of ofKind<IService>(rendered, 'Service')) {
      const label = `Service ${service.metadata!.name}`;
      const selected = all.filter((w) => selects(service.spec!.selector!, w.spec!.template.metadata?.labels));
      expect(
        selected.map((w) => w.metadata!.name),
        label,
      ).toHaveLength(1);
      const podPorts = selected[0]!.spec!.template.spec!.containers.flatMap((c) =>
        (c.ports ?? []).map((p) => p.name),
      );
      for (const port of service.spec!.ports!) expect(podPorts, label).toContain(port.targetPort);
    }
  });

  test('every http endpoint of the module points at a function Service the chart renders, on its port', () => {
    const rendered = renders.get(name)!;
    const urls = [...moduleOf(rendered).matchAll(/urlPathTemplate:\s*"?(https?:\/\/[^\s"]+)/g)].map(
      (m) => new URL(m[1]!),
    );
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) {
      const service = find<IService>(rendered, 'Service', url.hostname);
      expect(service.spec!.ports!.map((p) => String(p.port))).toContain(url.port);
    }
  });
});

describe('function services', () => {
  test('each entry becomes a Deployment and a Service <release>-<name> on its port, with defaults merged', async () => {
    const rendered = await render({
      releaseName: 'shop',
      values: {
        functions: [
          { name: 'cart', image: 'registry.example.com/shop/cart:1.4.2', port: 9000, replicas: 3 },
          {
            name: 'checkout',
            image: 'registry.example.com/shop/checkout:2.0.0',
            env: [{ name: 'MODE', value: 'strict' }],
          },
        ],
      },
    });
    expect(find<IDeployment>(rendered, 'Deployment', 'shop-cart').spec?.replicas).toBe(3);
    const cartContainer = firstContainer(rendered, 'Deployment', 'shop-cart');
    expect(cartContainer.image).toBe('registry.example.com/shop/cart:1.4.2');
    expect(cartContainer.ports).toEqual([{ name: 'http', containerPort: 9000, protocol: 'TCP' }]);
    expect(cartContainer.env).toContainEqual({ name: 'PORT', value: '9000' });
    expect(find<IService>(rendered, 'Service', 'shop-cart').spec?.ports?.[0]).toMatchObject({
      port: 9000,
      targetPort: 'http',
    });

    expect(find<IDeployment>(rendered, 'Deployment', 'shop-checkout').spec?.replicas).toBe(2);
    const checkoutContainer = firstContainer(rendered, 'Deployment', 'shop-checkout');
    expect(checkoutContainer.env).toContainEqual({ name: 'PORT', value: '8000' });
    expect(checkoutContainer.env).toContainEqual({ name: 'MODE', value: 'strict' });
    expect(checkoutContainer.readinessProbe?.tcpSocket).toEqual({ port: 'http' });
    expect(checkoutContainer.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(
      ofKind<IDeployment>(rendered, 'Deployment')
        .map((d) => d.metadata!.name)
        .sort(),
    ).toEqual(['shop-cart', 'shop-checkout', 'shop-continuum']);
  });

  test('an entry may override a default, such as its probe, without losing the others', async () => {
    const rendered = await render({
      values: {
        functions: [
          {
            name: 'cart',
            image: 'shop/cart:1',
            readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
            resources: { limits: { memory: '1Gi' } },
          },
        ],
      },
    });
    const container = firstContainer(rendered, 'Deployment', 'demo-cart');
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/ready', port: 'http' });
    expect(container.resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { memory: '1Gi' },
    });
  });

  test('an autoscaled function has an HPA and no fixed replica count', async () => {
    const rendered = await render({
      values: { functions: [{ name: 'cart', image: 'shop/cart:1', autoscaling: { enabled: true } }] },
    });
    expect(find<IDeployment>(rendered, 'Deployment', 'demo-cart').spec?.replicas).toBeUndefined();
    expect(
      find<IHorizontalPodAutoscaler>(rendered, 'HorizontalPodAutoscaler', 'demo-cart').spec?.scaleTargetRef
        .name,
    ).toBe('demo-cart');
  });
});

describe('opt-ins', () => {
  test('are all off by default: no PDB, HPA, ServiceMonitor, NetworkPolicy, bundled Kafka or Redis', async () => {
    const kinds = (await render()).map((r) => r.object.kind).sort();
    // The one Secret holds the generated admin token the runtime needs to start.
    expect(kinds).toEqual([
      'ConfigMap',
      'Deployment',
      'Deployment',
      'Secret',
      'Service',
      'Service',
      'ServiceAccount',
    ]);
  });

  test('all on render a PDB per workload, HPAs, a ServiceMonitor on the admin port and NetworkPolicies', async () => {
    const rendered = await render({ files: [ciValues('all-optins-values.yaml')] });
    expect(
      ofKind(rendered, 'PodDisruptionBudget')
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['demo-continuum', 'demo-greeter', 'demo-shopping-cart']);
    expect(
      ofKind(rendered, 'HorizontalPodAutoscaler')
        .map((h) => h.metadata.name)
        .sort(),
    ).toEqual(['demo-continuum', 'demo-greeter']);
    const monitor = find<IServiceMonitor>(rendered, 'ServiceMonitor', 'demo-continuum');
    const endpoint = monitor.spec.endpoints?.[0];
    expect(endpoint).toMatchObject({ port: 'admin', path: '/metrics' });
    expect(endpoint?.authorization?.credentials).toEqual({ name: 'demo-continuum', key: 'admin-token' });
    expect(monitor.metadata?.labels?.release).toBe('prometheus');
    const admin = find<IService>(rendered, 'Service', 'demo-continuum');
    expect(selects(monitor.spec.selector.matchLabels!, admin.metadata?.labels)).toBe(true);
    const playground = find<IService>(rendered, 'Service', 'demo-continuum-playground');
    expect(selects(monitor.spec.selector.matchLabels!, playground.metadata?.labels)).toBe(false);
    expect(
      ofKind(rendered, 'NetworkPolicy')
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['demo-continuum', 'demo-continuum-functions', 'demo-continuum-kafka', 'demo-continuum-redis']);
  });

  test('network policies let only the runtime reach the functions and the bundled Redis', async () => {
    const rendered = await render({ files: [ciValues('all-optins-values.yaml')] });
    const runtimePeer = {
      podSelector: {
        matchLabels: {
          'app.kubernetes.io/name': 'continuum',
          'app.kubernetes.io/instance': 'demo',
          'app.kubernetes.io/component': 'runtime',
        },
      },
    };
    const policy = (name: string) => find<INetworkPolicy>(rendered, 'NetworkPolicy', name).spec!;
    expect(policy('demo-continuum-functions').ingress).toEqual([{ from: [runtimePeer] }]);
    expect(policy('demo-continuum-redis').ingress).toEqual([
      { ports: [{ port: 6379, protocol: 'TCP' }], from: [runtimePeer] },
    ]);
    const runtime = policy('demo-continuum');
    expect(runtime.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(runtime.ingress?.[0]?.from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
  });

  test('a PDB uses minAvailable instead of maxUnavailable when it is set', async () => {
    const rendered = await render({
      set: ['podDisruptionBudget.enabled=true', 'podDisruptionBudget.minAvailable=1'],
    });
    const spec = find<IPodDisruptionBudget>(rendered, 'PodDisruptionBudget', 'demo-continuum').spec;
    expect(spec?.minAvailable).toBe(1);
    expect(spec?.maxUnavailable).toBeUndefined();
  });
});

describe('try-out Kafka and Redis', () => {
  let tryout: Rendered[];
  beforeAll(async () => {
    tryout = await render({ files: [ciValues('tryout-values.yaml')] });
  });

  test('Redis fsyncs every write to its append-only file and never evicts state', () => {
    const redis = firstContainer(tryout, 'StatefulSet', 'demo-continuum-redis');
    const args = redis.args ?? [];
    const option = (name: string) => args[args.indexOf(name) + 1];
    expect(option('--appendonly')).toBe('yes');
    expect(option('--appendfsync')).toBe('always');
    expect(option('--maxmemory-policy')).toBe('noeviction');
    expect(redis.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
  });

  test('both keep their data on persistent volumes by default', () => {
    for (const name of ['demo-continuum-kafka', 'demo-continuum-redis']) {
      const set = find<IStatefulSet>(tryout, 'StatefulSet', name);
      expect(set.spec?.volumeClaimTemplates?.[0]?.metadata?.name, name).toBe('data');
      expect(podSpec(tryout, 'StatefulSet', name).volumes, name).toBeUndefined();
    }
  });

  test('Kafka advertises the Service name the runtime connects to, and allows transactions on one broker', () => {
    const kafka = firstContainer(tryout, 'StatefulSet', 'demo-continuum-kafka');
    const env = Object.fromEntries((kafka.env ?? []).map((e) => [e.name, e.value]));
    expect(env.KAFKA_ADVERTISED_LISTENERS).toBe('PLAINTEXT://demo-continuum-kafka:9092');
    expect(env.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR).toBe('1');
    expect(env.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR).toBe('1');
    expect(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('1');
  });

  test('the playground Service exposes the module’s playground ingress and egress ports', () => {
    const service = find<IService>(tryout, 'Service', 'demo-continuum-playground');
    expect(service.spec?.ports).toEqual([
      { name: 'ingress', port: 8090, targetPort: 'playground-in', protocol: 'TCP' },
      { name: 'egress', port: 8091, targetPort: 'playground-out', protocol: 'TCP' },
    ]);
    expect(moduleOf(tryout)).toMatch(/kind: io\.statefun\.playground\.v1\/ingress\s+spec:\s+port: 8090/);
    expect(moduleOf(tryout)).toMatch(/kind: io\.statefun\.playground\.v1\/egress\s+spec:\s+port: 8091/);
  });
});

test('objects are namespaced in the release namespace', async () => {
  const rendered = await render({ namespace: 'payments', files: [ciValues('all-optins-values.yaml')] });
  const namespaces = new Set(rendered.map((r) => r.object.metadata.namespace));
  expect([...namespaces]).toEqual(['payments']);
});
