// The runtime Deployment honours the runtime's contract: configuration by environment, credentials only
// through Secrets, probes on the admin endpoints, and time to shut down gracefully.
import { describe, expect, test } from 'vitest';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { IContainer, IEnvVar, ISecret } from 'kubernetes-models/v1';
import { ciValues, find, firstContainer, ofKind, podSpec, render, type Rendered } from './support/helm.js';

function runtimeContainer(rendered: readonly Rendered[]): IContainer {
  return firstContainer(rendered, 'Deployment', 'demo-continuum');
}

function envOf(rendered: readonly Rendered[]): Map<string, IEnvVar> {
  return new Map((runtimeContainer(rendered).env ?? []).map((e) => [e.name, e]));
}

describe('runtime configuration', () => {
  test('is passed as the CONTINUUM_* environment the runtime reads', async () => {
    const env = envOf(
      await render({
        values: {
          kafka: { brokers: ['k1:9092', 'k2:9093'], tls: { enabled: true } },
          redis: { url: 'redis://state:6379/2' },
          runtime: {
            partitions: 64,
            checkpointIntervalMs: 500,
            adminPort: 9191,
            limits: {
              checkpointMaxRecords: 100,
              maxOutstandingRecords: 2000,
              stateCacheAddresses: 30,
              maxPendingTimers: 4,
            },
            log: { format: 'pretty', level: 'debug' },
          },
        },
      }),
    );
    const plain = Object.fromEntries(
      [...env].filter(([, e]) => e.value !== undefined).map(([k, e]) => [k, e.value]),
    );
    expect(plain).toMatchObject({
      CONTINUUM_KAFKA_BROKERS: 'k1:9092,k2:9093',
      CONTINUUM_KAFKA_SSL: 'true',
      CONTINUUM_REDIS_URL: 'redis://state:6379/2',
      CONTINUUM_PARTITIONS: '64',
      CONTINUUM_CHECKPOINT_INTERVAL_MS: '500',
      CONTINUUM_CHECKPOINT_MAX_RECORDS: '100',
      CONTINUUM_MAX_OUTSTANDING_RECORDS: '2000',
      CONTINUUM_STATE_CACHE_ADDRESSES: '30',
      CONTINUUM_MAX_PENDING_TIMERS: '4',
      CONTINUUM_ADMIN_PORT: '9191',
      CONTINUUM_LOG_FORMAT: 'pretty',
      CONTINUUM_LOG_LEVEL: 'debug',
    });
    expect(env.has('CONTINUUM_KAFKA_SASL_MECHANISM')).toBe(false);
    expect(env.has('CONTINUUM_REDIS_PASSWORD')).toBe(false);
    expect(env.has('CONTINUUM_ADMIN_TOKEN')).toBe(false);
  });

  test('points at the bundled Kafka and Redis when they are enabled, whatever brokers and url say', async () => {
    const rendered = await render({ files: [ciValues('tryout-values.yaml')] });
    const env = envOf(rendered);
    expect(env.get('CONTINUUM_KAFKA_BROKERS')?.value).toBe('demo-continuum-kafka:9092');
    expect(env.get('CONTINUUM_REDIS_URL')?.value).toBe('redis://demo-continuum-redis:6379/0');
    expect(find(rendered, 'Service', 'demo-continuum-kafka')).toBeDefined();
    expect(find(rendered, 'Service', 'demo-continuum-redis')).toBeDefined();
  });
});

describe('credentials', () => {
  const secretValues = ['s3cr3t-kafka', 's3cr3t-redis', 's3cr3t-admin'];

  test('given inline go into the chart Secret and reach the runtime only by reference', async () => {
    const rendered = await render({
      values: {
        kafka: { sasl: { mechanism: 'scram-sha-256', username: 'app', password: secretValues[0] } },
        redis: { password: secretValues[1] },
        admin: { token: secretValues[2] },
      },
    });
    const data = find<ISecret>(rendered, 'Secret', 'demo-continuum').data!;
    expect(Object.keys(data).sort()).toEqual(['admin-token', 'kafka-sasl-password', 'redis-password']);
    expect(Buffer.from(data['kafka-sasl-password']!, 'base64').toString()).toBe(secretValues[0]);

    const env = envOf(rendered);
    expect(env.get('CONTINUUM_KAFKA_SASL_MECHANISM')?.value).toBe('scram-sha-256');
    expect(env.get('CONTINUUM_KAFKA_SASL_USERNAME')?.value).toBe('app');
    expect(env.get('CONTINUUM_KAFKA_SASL_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
      name: 'demo-continuum',
      key: 'kafka-sasl-password',
    });
    expect(env.get('CONTINUUM_REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
      name: 'demo-continuum',
      key: 'redis-password',
    });
    expect(env.get('CONTINUUM_ADMIN_TOKEN')?.valueFrom?.secretKeyRef).toEqual({
      name: 'demo-continuum',
      key: 'admin-token',
    });

    const outsideSecrets = JSON.stringify(
      rendered.filter((r) => r.object.kind !== 'Secret').map((r) => r.object),
    );
    for (const value of secretValues) expect(outsideSecrets).not.toContain(value);
  });

  test('from existing Secrets are referenced by name and key, and the chart renders no Secret', async () => {
    const rendered = await render({ files: [ciValues('existing-secrets-values.yaml')] });
    expect(ofKind(rendered, 'Secret')).toEqual([]);
    const env = envOf(rendered);
    expect(env.get('CONTINUUM_KAFKA_SASL_USERNAME')?.valueFrom?.secretKeyRef).toEqual({
      name: 'continuum-kafka',
      key: 'username',
    });
    expect(env.get('CONTINUUM_KAFKA_SASL_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
      name: 'continuum-kafka',
      key: 'password',
    });
    expect(env.get('CONTINUUM_REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
      name: 'continuum-redis',
      key: 'password',
    });
    expect(env.get('CONTINUUM_ADMIN_TOKEN')?.valueFrom?.secretKeyRef).toEqual({
      name: 'continuum-admin',
      key: 'token',
    });
    expect(env.get('CONTINUUM_KAFKA_SASL_MECHANISM')?.value).toBe('scram-sha-512');
    expect(env.get('CONTINUUM_KAFKA_SSL')?.value).toBe('true');
    expect(env.get('CONTINUUM_REDIS_URL')?.value).toBe(
      'rediss://continuum-redis.internal.example.com:6380/0',
    );
  });

  test('the bundled Redis requires the same password the runtime is given', async () => {
    const rendered = await render({ files: [ciValues('all-optins-values.yaml')] });
    const redis = firstContainer(rendered, 'StatefulSet', 'demo-continuum-redis');
    const args = redis.args ?? [];
    expect(args).toContain('--requirepass');
    expect(args[args.indexOf('--requirepass') + 1]).toBe('$(REDIS_PASSWORD)');
    expect(redis.env?.[0]?.valueFrom?.secretKeyRef).toEqual(
      envOf(rendered).get('CONTINUUM_REDIS_PASSWORD')?.valueFrom?.secretKeyRef,
    );
  });
});

describe('lifecycle', () => {
  test('liveness and startup probe /healthz, readiness probes /readyz, all on the admin port', async () => {
    const container = runtimeContainer(await render());
    expect(container.ports?.find((p) => p.name === 'admin')?.containerPort).toBe(9090);
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(container.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'admin' });
  });

  test('the graceful stop ends 8 s before the grace period, and the session timeout and pod identity are passed', async () => {
    const env = (rendered: readonly Rendered[]) => envOf(rendered);
    const defaults = env(await render());
    expect(defaults.get('CONTINUUM_SHUTDOWN_TIMEOUT_MS')?.value).toBe('52000');
    expect(defaults.get('CONTINUUM_KAFKA_SESSION_TIMEOUT_MS')?.value).toBe('6000');
    expect(defaults.get('CONTINUUM_INSTANCE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    const set = env(
      await render({
        set: ['runtime.terminationGracePeriodSeconds=30', 'runtime.kafkaSessionTimeoutMs=10000'],
      }),
    );
    expect(set.get('CONTINUUM_SHUTDOWN_TIMEOUT_MS')?.value).toBe('22000');
    expect(set.get('CONTINUUM_KAFKA_SESSION_TIMEOUT_MS')?.value).toBe('10000');
  });

  test('the pod gets more than the ~30 s the runtime needs to finish its checkpoint, and it is configurable', async () => {
    const pod = (rendered: readonly Rendered[]) => podSpec(rendered, 'Deployment', 'demo-continuum');
    expect(pod(await render()).terminationGracePeriodSeconds).toBeGreaterThanOrEqual(45);
    expect(
      pod(await render({ set: ['runtime.terminationGracePeriodSeconds=120'] })).terminationGracePeriodSeconds,
    ).toBe(120);
  });

  test('a rolling update never takes a runtime pod away before its replacement is ready', async () => {
    const deployment = find<IDeployment>(await render(), 'Deployment', 'demo-continuum');
    expect(deployment.spec?.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
  });

  test('with autoscaling the HPA owns the replica count', async () => {
    const rendered = await render({
      set: ['autoscaling.enabled=true', 'autoscaling.minReplicas=3', 'autoscaling.maxReplicas=9'],
    });
    expect(find<IDeployment>(rendered, 'Deployment', 'demo-continuum').spec?.replicas).toBeUndefined();
    const hpa = find<IHorizontalPodAutoscaler>(rendered, 'HorizontalPodAutoscaler', 'demo-continuum').spec!;
    expect(hpa.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'demo-continuum' });
    expect([hpa.minReplicas, hpa.maxReplicas]).toEqual([3, 9]);
    expect(find<IDeployment>(await render(), 'Deployment', 'demo-continuum').spec?.replicas).toBe(2);
  });

  test('the image is the appVersion tag by default and a digest pins it when given', async () => {
    expect(runtimeContainer(await render()).image).toBe('continuum/runtime:0.1.0');
    const digest = `sha256:${'ab'.repeat(32)}`;
    expect(runtimeContainer(await render({ set: [`runtime.image.digest=${digest}`] })).image).toBe(
      `continuum/runtime@${digest}`,
    );
  });
});
