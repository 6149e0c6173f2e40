// module.yaml from values: stored verbatim in the ConfigMap, mounted where the runtime reads it, and
// any change rolls the runtime pods through the checksum annotation.
import { describe, expect, test } from 'vitest';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IConfigMap } from 'kubernetes-models/v1';
import { find, podSpec, render, type Rendered } from './support/helm.js';

// Comments, quoting, blank lines, trailing spaces, non-ASCII text, StateFun placeholders and several
// documents: everything a YAML round trip could alter.
const trickyModule = [
  '# greeter application   ',
  'kind: io.statefun.endpoints.v2/http',
  'spec:',
  '  functions: example/*',
  '  urlPathTemplate: "http://fns:8000/{function.name}?q=1#frag"',
  "  maxNumBatchRequests: '500'",
  '',
  '---',
  'kind: io.statefun.kafka.v1/ingress',
  'spec: {id: example/names, topics: [{topic: names, valueType: example/Name, targets: [example/greeter]}]}',
  '# Grüße → 世界 \t',
  '',
  '',
].join('\n');

function moduleOf(rendered: readonly Rendered[], name = 'demo-continuum-module'): string {
  return find<IConfigMap>(rendered, 'ConfigMap', name).data!['module.yaml']!;
}

function podAnnotations(rendered: readonly Rendered[]): Record<string, string> {
  return find<IDeployment>(rendered, 'Deployment', 'demo-continuum').spec!.template.metadata!.annotations!;
}

describe('module.yaml', () => {
  test('appears in the ConfigMap exactly as given in values', async () => {
    const rendered = await render({ values: { module: trickyModule } });
    expect(moduleOf(rendered)).toBe(trickyModule);
  });

  test('without a trailing newline also stays exactly as given', async () => {
    const module = 'kind: io.statefun.playground.v1/ingress\nspec:\n  port: 8090';
    expect(moduleOf(await render({ values: { module } }))).toBe(module);
  });

  test('can refer to the release and the chart helpers through tpl', async () => {
    const module =
      'kind: io.statefun.kafka.v1/egress\nspec:\n  id: example/out\n' +
      '  address: {{ include "continuum.kafka.brokers" . }}\n  group: {{ .Release.Name }}-g\n';
    const rendered = await render({
      values: { module, kafka: { brokers: ['k1:9092', 'k2:9092'] } },
      releaseName: 'shop',
    });
    expect(moduleOf(rendered, 'shop-continuum-module')).toBe(
      'kind: io.statefun.kafka.v1/egress\nspec:\n  id: example/out\n  address: k1:9092,k2:9092\n  group: shop-g\n',
    );
  });

  test('is mounted at /etc/continuum/module.yaml and passed to `statefun run -m`', async () => {
    const rendered = await render();
    const pod = podSpec(rendered, 'Deployment', 'demo-continuum');
    const container = pod.containers[0]!;
    expect(container.args?.slice(0, 3)).toEqual(['run', '-m', '/etc/continuum/module.yaml']);
    const mount = container.volumeMounts?.find((m) => m.mountPath === '/etc/continuum');
    const volume = pod.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.configMap?.name).toBe('demo-continuum-module');
    expect(mount?.readOnly).toBe(true);
  });

  test('changing it changes the checksum that rolls the runtime pods', async () => {
    const base = podAnnotations(await render({ values: { module: trickyModule } }));
    const same = podAnnotations(await render({ values: { module: trickyModule } }));
    const changed = podAnnotations(
      await render({ values: { module: trickyModule.replace('8000', '8001') } }),
    );
    expect(base['checksum/module']).toMatch(/^[0-9a-f]{64}$/);
    expect(same['checksum/module']).toBe(base['checksum/module']);
    expect(changed['checksum/module']).not.toBe(base['checksum/module']);
  });

  test('changing an inline credential changes the secret checksum, not the module checksum', async () => {
    const one = podAnnotations(await render({ set: ['redis.password=first'] }));
    const two = podAnnotations(await render({ set: ['redis.password=second'] }));
    expect(two['checksum/secret']).not.toBe(one['checksum/secret']);
    expect(two['checksum/module']).toBe(one['checksum/module']);
  });
});
