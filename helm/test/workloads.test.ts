// What a platform team checks before accepting the chart: hardened pods, standard labels, Services
// that select real pods, function services as declared, opt-ins off by default, and a durable try-out Redis.
import { beforeAll, describe, expect, test } from 'vitest';
import { ciValues, find, ofKind, render, valueSets, type K8sObject, type Rendered } from './support/helm.js';

const workloadKinds = new Set(['Deployment', 'StatefulSet']);

function podTemplates(rendered: readonly Rendered[]): { owner: string; template: any }[] {
  return rendered
    .filter((r) => workloadKinds.has(r.object.kind))
    .map((r) => ({ owner: `${r.object.kind}/${r.object.metadata.name}`, template: (r.object as any).spec.template }));
}

const renders = new Map<string, Rendered[]>();

beforeAll(async () => {
  for (const set of valueSets) renders.set(set.name, await render({ files: set.files }));
});

describe.each(valueSets)('value set "$name"', ({ name }) => {
  test('every pod runs as non-root with RuntimeDefault seccomp, no privilege escalation and no capabilities', () => {
    for (const { owner, template } of podTemplates(renders.get(name)!)) {
      const pod = template.spec;
      expect(pod.securityContext.runAsNonRoot, owner).toBe(true);
      expect(pod.securityContext.runAsUser, owner).toBeGreaterThan(0);
      expect(pod.securityContext.seccompProfile, owner).toEqual({ type: 'RuntimeDefault' });
      expect(pod.automountServiceAccountToken, owner).toBe(false);
      for (const container of pod.containers) {
        expect(container.securityContext.allowPrivilegeEscalation, owner).toBe(false);
        expect(container.securityContext.capabilities, owner).toEqual({ drop: ['ALL'] });
        expect(container.resources.requests, owner).toBeDefined();
        expect(container.resources.limits.memory, owner).toBeDefined();
      }
    }
  });

  test('every container but the try-out Kafka has a read-only root filesystem', () => {
    for (const { owner, template } of podTemplates(renders.get(name)!)) {
      for (const container of template.spec.containers) {
        const expected = container.name !== 'kafka';
        expect(container.securityContext.readOnlyRootFilesystem, `${owner} container ${container.name}`).toBe(expected);
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
      expect(object.metadata.labels?.['app.kubernetes.io/component']).toMatch(/^(runtime|function|kafka|redis)$/);
    }
  });

  test('every workload selects its own pods, and every Service selects the pods of exactly one workload', () => {
    const rendered = renders.get(name)!;
    const workloads = rendered.filter((r) => workloadKinds.has(r.object.kind)).map((r) => r.object as any);
    const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    for (const w of workloads) {
      expect(matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels), w.metadata.name).toBe(true);
    }
    for (const service of ofKind(rendered, 'Service') as any[]) {
      const selected = workloads.filter((w) => matches(service.spec.selector, w.spec.template.metadata.labels));
      expect(selected.map((w) => w.metadata.name), `Service ${service.metadata.name}`).toHaveLength(1);
      const podPorts = selected[0].spec.template.spec.containers.flatMap((c: any) => c.ports.map((p: any) => p.name));
      for (const port of service.spec.ports) expect(podPorts, `Service ${service.metadata.name}`).toContain(port.targetPort);
    }
  });

  test('every http endpoint of the module points at a function Service the chart renders, on its port', () => {
    const rendered = renders.get(name)!;
    const module: string = (find(rendered, 'ConfigMap', 'demo-continuum-module') as any).data['module.yaml'];
    const urls = [...module.matchAll(/urlPathTemplate:\s*"?(https?:\/\/[^\s"]+)/g)].map((m) => new URL(m[1]!));
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) {
      const service = find(rendered, 'Service', url.hostname) as any;
      expect(service.spec.ports.map((p: any) => String(p.port))).toContain(url.port);
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
          { name: 'checkout', image: 'registry.example.com/shop/checkout:2.0.0', env: [{ name: 'MODE', value: 'strict' }] },
        ],
      },
    });
    const cart = find(rendered, 'Deployment', 'shop-cart') as any;
    expect(cart.spec.replicas).toBe(3);
    const cartContainer = cart.spec.template.spec.containers[0];
    expect(cartContainer.image).toBe('registry.example.com/shop/cart:1.4.2');
    expect(cartContainer.ports).toEqual([{ name: 'http', containerPort: 9000, protocol: 'TCP' }]);
    expect(cartContainer.env).toContainEqual({ name: 'PORT', value: '9000' });
    expect((find(rendered, 'Service', 'shop-cart') as any).spec.ports[0]).toMatchObject({ port: 9000, targetPort: 'http' });

    const checkout = find(rendered, 'Deployment', 'shop-checkout') as any;
    expect(checkout.spec.replicas).toBe(2);
    const checkoutContainer = checkout.spec.template.spec.containers[0];
    expect(checkoutContainer.env).toContainEqual({ name: 'PORT', value: '8000' });
    expect(checkoutContainer.env).toContainEqual({ name: 'MODE', value: 'strict' });
    expect(checkoutContainer.readinessProbe.tcpSocket).toEqual({ port: 'http' });
    expect(checkoutContainer.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(ofKind(rendered, 'Deployment').map((d) => d.metadata.name).sort()).toEqual(['shop-cart', 'shop-checkout', 'shop-continuum']);
  });

  test('an entry may override a default, such as its probe, without losing the others', async () => {
    const rendered = await render({
      values: {
        functions: [
          { name: 'cart', image: 'shop/cart:1', readinessProbe: { httpGet: { path: '/ready', port: 'http' } }, resources: { limits: { memory: '1Gi' } } },
        ],
      },
    });
    const container = (find(rendered, 'Deployment', 'demo-cart') as any).spec.template.spec.containers[0];
    expect(container.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' });
    expect(container.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } });
  });

  test('an autoscaled function has an HPA and no fixed replica count', async () => {
    const rendered = await render({ values: { functions: [{ name: 'cart', image: 'shop/cart:1', autoscaling: { enabled: true } }] } });
    expect((find(rendered, 'Deployment', 'demo-cart') as any).spec.replicas).toBeUndefined();
    expect((find(rendered, 'HorizontalPodAutoscaler', 'demo-cart') as any).spec.scaleTargetRef.name).toBe('demo-cart');
  });
});

describe('opt-ins', () => {
  test('are all off by default: no PDB, HPA, ServiceMonitor, NetworkPolicy, Secret, bundled Kafka or Redis', async () => {
    const kinds = (await render()).map((r) => r.object.kind).sort();
    expect(kinds).toEqual(['ConfigMap', 'Deployment', 'Deployment', 'Service', 'Service', 'ServiceAccount']);
  });

  test('all on render a PDB per workload, HPAs, a ServiceMonitor on the admin port and NetworkPolicies', async () => {
    const rendered = await render({ files: [ciValues('all-optins-values.yaml')] });
    expect(ofKind(rendered, 'PodDisruptionBudget').map((p) => p.metadata.name).sort()).toEqual([
      'demo-continuum',
      'demo-greeter',
      'demo-shopping-cart',
    ]);
    expect(ofKind(rendered, 'HorizontalPodAutoscaler').map((h) => h.metadata.name).sort()).toEqual(['demo-continuum', 'demo-greeter']);
    const monitor = find(rendered, 'ServiceMonitor', 'demo-continuum') as any;
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: 'admin', path: '/metrics' });
    expect(monitor.metadata.labels.release).toBe('prometheus');
    expect(monitor.spec.endpoints[0].authorization.credentials).toEqual({ name: 'demo-continuum', key: 'admin-token' });
    const admin = find(rendered, 'Service', 'demo-continuum') as any;
    expect(Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => admin.metadata.labels[k] === v)).toBe(true);
    expect(ofKind(rendered, 'NetworkPolicy').map((p) => p.metadata.name).sort()).toEqual([
      'demo-continuum',
      'demo-continuum-functions',
      'demo-continuum-kafka',
      'demo-continuum-redis',
    ]);
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
    const functions = find(rendered, 'NetworkPolicy', 'demo-continuum-functions') as any;
    expect(functions.spec.ingress).toEqual([{ from: [runtimePeer] }]);
    const redis = find(rendered, 'NetworkPolicy', 'demo-continuum-redis') as any;
    expect(redis.spec.ingress).toEqual([{ ports: [{ port: 6379, protocol: 'TCP' }], from: [runtimePeer] }]);
    const runtime = find(rendered, 'NetworkPolicy', 'demo-continuum') as any;
    expect(runtime.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(runtime.spec.ingress[0].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
  });

  test('a PDB uses minAvailable instead of maxUnavailable when it is set', async () => {
    const rendered = await render({ set: ['podDisruptionBudget.enabled=true', 'podDisruptionBudget.minAvailable=1'] });
    const spec = (find(rendered, 'PodDisruptionBudget', 'demo-continuum') as any).spec;
    expect(spec.minAvailable).toBe(1);
    expect(spec.maxUnavailable).toBeUndefined();
  });
});

describe('try-out Kafka and Redis', () => {
  let tryout: Rendered[];
  beforeAll(async () => {
    tryout = await render({ files: [ciValues('tryout-values.yaml')] });
  });

  test('Redis fsyncs every write to its append-only file and never evicts state', () => {
    const redis = (find(tryout, 'StatefulSet', 'demo-continuum-redis') as any).spec.template.spec.containers[0];
    const args: string[] = redis.args;
    const option = (name: string) => args[args.indexOf(name) + 1];
    expect(option('--appendonly')).toBe('yes');
    expect(option('--appendfsync')).toBe('always');
    expect(option('--maxmemory-policy')).toBe('noeviction');
    expect(redis.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
  });

  test('both keep their data on persistent volumes by default', () => {
    for (const name of ['demo-continuum-kafka', 'demo-continuum-redis']) {
      const set = find(tryout, 'StatefulSet', name) as any;
      expect(set.spec.volumeClaimTemplates?.[0]?.metadata.name, name).toBe('data');
    }
  });

  test('Kafka advertises the Service name the runtime connects to, and allows transactions on one broker', () => {
    const kafka = (find(tryout, 'StatefulSet', 'demo-continuum-kafka') as any).spec.template.spec.containers[0];
    const env = Object.fromEntries(kafka.env.map((e: any) => [e.name, e.value]));
    expect(env.KAFKA_ADVERTISED_LISTENERS).toBe('PLAINTEXT://demo-continuum-kafka:9092');
    expect(env.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR).toBe('1');
    expect(env.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR).toBe('1');
    expect(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('1');
  });

  test('the playground Service exposes the module’s playground ingress port', () => {
    const service = find(tryout, 'Service', 'demo-continuum-playground') as any;
    expect(service.spec.ports).toEqual([{ name: 'ingress', port: 8090, targetPort: 'playground-in', protocol: 'TCP' }]);
    const module: string = (find(tryout, 'ConfigMap', 'demo-continuum-module') as any).data['module.yaml'];
    expect(module).toMatch(/kind: io\.statefun\.playground\.v1\/ingress\s+spec:\s+port: 8090/);
  });
});

test('objects are namespaced in the release namespace', async () => {
  const rendered = await render({ namespace: 'payments', files: [ciValues('all-optins-values.yaml')] });
  const namespaces = new Set(rendered.map((r: { object: K8sObject }) => r.object.metadata.namespace));
  expect([...namespaces]).toEqual(['payments']);
});
