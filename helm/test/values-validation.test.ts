// Bad values fail `helm install` before anything reaches the cluster, with a message naming the value
// and saying what is expected: values.schema.json for single values, template checks across values.
import { expect, test } from 'vitest';
import { lint, template } from './support/helm.js';

async function rejection(options: Parameters<typeof template>[0]): Promise<string> {
  const result = await template(options);
  expect(
    result.code,
    `expected helm template to fail, it rendered:\n${result.stdout.slice(0, 400)}`,
  ).not.toBe(0);
  return result.stderr;
}

test('an unsupported SASL mechanism is rejected by the schema, listing the allowed ones', async () => {
  const stderr = await rejection({ set: ['kafka.sasl.mechanism=gssapi'] });
  expect(stderr).toContain("values don't meet the specifications of the schema");
  expect(stderr).toContain('kafka.sasl.mechanism');
  expect(stderr).toMatch(/"plain", "scram-sha-256", "scram-sha-512"/);
});

test('a misspelt value key is rejected instead of being ignored', async () => {
  const stderr = await rejection({ set: ['runtime.replcaCount=3'] });
  expect(stderr).toMatch(/runtime: Additional property replcaCount is not allowed/);
});

test('a broker without a port is rejected by the schema', async () => {
  const stderr = await rejection({ values: { kafka: { brokers: ['kafka.internal'] } } });
  expect(stderr).toMatch(/kafka\.brokers\.0: Does not match pattern/);
});

test('a function name that cannot name a Service is rejected', async () => {
  const stderr = await rejection({ values: { functions: [{ name: 'Cart_Service', image: 'shop/cart:1' }] } });
  expect(stderr).toMatch(/functions\.0\.name: Does not match pattern/);
});

test('a function without an image is rejected', async () => {
  const stderr = await rejection({ values: { functions: [{ name: 'cart' }] } });
  expect(stderr).toMatch(/functions\.0: image is required/);
});

test('a negative replica count and a string partition count are rejected', async () => {
  const stderr = await rejection({
    set: ['runtime.replicaCount=-1'],
    setString: ['runtime.partitions=many'],
  });
  expect(stderr).toMatch(/runtime\.replicaCount: Must be greater than or equal to 0/);
  expect(stderr).toMatch(/runtime\.partitions: Invalid type\. Expected: integer, given: string/);
});

test('an empty module is rejected', async () => {
  const stderr = await rejection({ values: { module: '' } });
  expect(stderr).toMatch(/module: String length must be greater than or equal to 1/);
});

test('SASL without a password says which values to set', async () => {
  const stderr = await rejection({ set: ['kafka.sasl.mechanism=scram-sha-512', 'kafka.sasl.username=app'] });
  expect(stderr).toContain(
    'kafka.sasl.mechanism is "scram-sha-512" but no password is configured: set kafka.sasl.password, or kafka.sasl.existingSecret',
  );
});

test('no Kafka at all (empty brokers, nothing bundled) says how to fix it', async () => {
  const stderr = await rejection({ values: { kafka: { brokers: [] } } });
  expect(stderr).toContain('kafka.brokers is empty: list your Kafka bootstrap servers');
});

test('two functions with one name are rejected', async () => {
  const stderr = await rejection({
    values: {
      functions: [
        { name: 'cart', image: 'shop/cart:1' },
        { name: 'cart', image: 'shop/cart:2' },
      ],
    },
  });
  expect(stderr).toContain('functions[1].name "cart" is used twice');
});

test('a function whose name collides with the chart objects is rejected', async () => {
  const stderr = await rejection({
    releaseName: 'shop',
    values: { functions: [{ name: 'continuum-redis', image: 'shop/cart:1' }] },
  });
  expect(stderr).toContain('gives the name shop-continuum-redis, which the chart already uses');
});

test('autoscaling with its maximum below its minimum is rejected', async () => {
  const stderr = await rejection({
    set: ['autoscaling.enabled=true', 'autoscaling.minReplicas=4', 'autoscaling.maxReplicas=2'],
  });
  expect(stderr).toContain('autoscaling.maxReplicas (2) is below autoscaling.minReplicas (4)');
});

test('helm lint --strict reports a schema violation as an error', async () => {
  const result = await lint({ set: ['runtime.log.format=xml'] });
  expect(result.code).not.toBe(0);
  expect(result.stdout + result.stderr).toMatch(
    /runtime\.log\.format: runtime\.log\.format must be one of the following: "json", "pretty"/,
  );
});
