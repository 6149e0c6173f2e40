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
  test('caps the V8 heap below the pod memory limit as maxOldSpaceMiB says, or not at all with 0', async () => {
    const capped = envOf(await render({ values: { runtime: { maxOldSpaceMiB: 1500 } } }));
    expect(capped.get('NODE_OPTIONS')?.value).toBe('--max-old-space-size=1500');
    const uncapped = envOf(await render({ values: { runtime: { maxOldSpaceMiB: 0 } } }));
    expect(uncapped.has('NODE_OPTIONS')).toBe(false);
  });

  test("leaves the partitioning to the deployment's record unless it is set", async () => {
    expect(envOf(await render({})).has('CONTINUUM_PARTITIONING')).toBe(false);
    const set = envOf(await render({ values: { runtime: { partitioning: 'address' } } }));
    expect(set.get('CONTINUUM_PARTITIONING')?.value).toBe('address');
    await expect(render({ values: { runtime: { partitioning: 'hash' } } })).rejects.toThrow(/partitioning/);
  });

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
    expect(env.get('NODE_OPTIONS')?.value).toBe('--max-old-space-size=640');
    expect(env.has('CONTINUUM_REDIS_PASSWORD')).toBe(false);
    expect(env.has('CONTINUUM_ADMIN_INSECURE')).toBe(false);
    expect(env.has('CONTINUUM_SIGNING_KEY_FILE')).toBe(false);
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
  const secretValues = ['s3cr3t-kafka', 's3cr3t-redis', 's3cr3t-admin-token-0123'];

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

describe('who may call the runtime', () => {
  test('a default install generates an admin token into the chart Secret, so `statefun run` starts', async () => {
    const rendered = await render();
    const data = find<ISecret>(rendered, 'Secret', 'demo-continuum').data!;
    expect(Buffer.from(data['admin-token']!, 'base64').toString()).toMatch(/^[A-Za-z0-9]{40}$/);
    const env = envOf(rendered);
    expect(env.get('CONTINUUM_ADMIN_TOKEN')?.valueFrom?.secretKeyRef).toEqual({
      name: 'demo-continuum',
      key: 'admin-token',
    });
    expect(env.has('CONTINUUM_ADMIN_INSECURE')).toBe(false);
  });

  test('admin.insecure runs without a token and says so to the runtime', async () => {
    const rendered = await render({ values: { admin: { insecure: true } } });
    expect(ofKind(rendered, 'Secret')).toEqual([]);
    const env = envOf(rendered);
    expect(env.has('CONTINUUM_ADMIN_TOKEN')).toBe(false);
    expect(env.get('CONTINUUM_ADMIN_INSECURE')?.value).toBe('true');
  });

  test('an admin token the runtime would refuse is a schema error at install time', async () => {
    await expect(render({ values: { admin: { token: 'short' } } })).rejects.toThrow(/admin.token/);
    await expect(
      render({ values: { admin: { insecure: true, token: 'a-long-enough-token-1234' } } }),
    ).rejects.toThrow(/admin.insecure is true but an admin token is configured/);
  });

  test('the playground token reaches the runtime by reference only', async () => {
    const token = 'playground-token-abcdef-123';
    const rendered = await render({ values: { playground: { enabled: true, token } } });
    const data = find<ISecret>(rendered, 'Secret', 'demo-continuum').data!;
    expect(Buffer.from(data['playground-token']!, 'base64').toString()).toBe(token);
    expect(envOf(rendered).get('CONTINUUM_PLAYGROUND_TOKEN')?.valueFrom?.secretKeyRef).toEqual({
      name: 'demo-continuum',
      key: 'playground-token',
    });
    const outside = JSON.stringify(rendered.filter((r) => r.object.kind !== 'Secret').map((r) => r.object));
    expect(outside).not.toContain(token);
  });

  test('a Redis URL with credentials goes into the Secret, never into the Deployment in clear', async () => {
    const url = 'rediss://app:redis-pass-9876@state.example.com:6380/1';
    const rendered = await render({ values: { redis: { url } } });
    const data = find<ISecret>(rendered, 'Secret', 'demo-continuum').data!;
    expect(Buffer.from(data['redis-url']!, 'base64').toString()).toBe(url);
    expect(envOf(rendered).get('CONTINUUM_REDIS_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'demo-continuum',
      key: 'redis-url',
    });
    const outside = JSON.stringify(rendered.filter((r) => r.object.kind !== 'Secret').map((r) => r.object));
    expect(outside).not.toContain('redis-pass-9876');
  });
});

describe('request signing', () => {
  const privateKey =
    '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIDuTtT1bNNz0gq4Sf1sCn3Ye6fjYm4f1sD2T9wE0Xy0z\n-----END PRIVATE KEY-----\n';
  const publicKeys = [
    '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAold\n-----END PUBLIC KEY-----\n',
    '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAnew\n-----END PUBLIC KEY-----\n',
  ];

  test('the private key is a Secret mounted read-only into the runtime, named by CONTINUUM_SIGNING_KEY_FILE', async () => {
    const rendered = await render({ values: { signing: { privateKey, publicKeys } } });
    const data = find<ISecret>(rendered, 'Secret', 'demo-continuum').data!;
    expect(Buffer.from(data['signing-private-key.pem']!, 'base64').toString()).toBe(privateKey);
    const container = runtimeContainer(rendered);
    expect(envOf(rendered).get('CONTINUUM_SIGNING_KEY_FILE')?.value).toBe(
      '/etc/continuum/signing/private-key.pem',
    );
    expect(container.volumeMounts).toContainEqual({
      name: 'signing-key',
      mountPath: '/etc/continuum/signing',
      readOnly: true,
    });
    const volume = podSpec(rendered, 'Deployment', 'demo-continuum').volumes?.find(
      (v) => v.name === 'signing-key',
    );
    expect(volume?.secret).toMatchObject({
      secretName: 'demo-continuum',
      items: [{ key: 'signing-private-key.pem', path: 'private-key.pem' }],
    });
    const outside = JSON.stringify(rendered.filter((r) => r.object.kind !== 'Secret').map((r) => r.object));
    expect(outside).not.toContain('MC4CAQAwBQYDK2VwBCIEIDuTtT1bNNz0gq4Sf1sCn3Ye6fjYm4f1sD2T9wE0Xy0z');
  });

  test('function containers get the public keys as VERIFY_PUBLIC_KEYS, both during a rotation', async () => {
    const rendered = await render({ values: { signing: { existingSecret: 'runtime-signing', publicKeys } } });
    const fn = firstContainer(rendered, 'Deployment', 'demo-greeter');
    const verify = fn.env?.find((e) => e.name === 'VERIFY_PUBLIC_KEYS')?.value;
    expect(verify).toBe(publicKeys.join('\n'));
    const volume = podSpec(rendered, 'Deployment', 'demo-continuum').volumes?.find(
      (v) => v.name === 'signing-key',
    );
    expect(volume?.secret).toMatchObject({
      secretName: 'runtime-signing',
      items: [{ key: 'private-key.pem', path: 'private-key.pem' }],
    });
  });

  test('keys that are not PEM are refused with what to run', async () => {
    await expect(render({ values: { signing: { privateKey: 'abc' } } })).rejects.toThrow(
      /signing.privateKey must be a PEM Ed25519 private key/,
    );
    await expect(render({ values: { signing: { publicKeys: ['abc'] } } })).rejects.toThrow(
      /signing.publicKeys\[0\] must be a PEM public key/,
    );
  });
});
