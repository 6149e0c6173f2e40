// NOTES.txt, printed after `helm install`, tells how to check the rollout and send a first event.
import { expect, test } from 'vitest';
import { ciValues, renderNotes } from './support/helm.js';

test('the try-out notes show how to send a first event through the playground and through Kafka', async () => {
  const notes = await renderNotes({ files: [ciValues('tryout-values.yaml')], namespace: 'demo-ns' });
  expect(notes).toContain('kubectl -n demo-ns rollout status deployment/demo-continuum');
  expect(notes).toContain(
    'kubectl -n demo-ns port-forward service/demo-continuum-playground 8090:8090 8091:8091 &',
  );
  expect(notes).toContain('curl http://localhost:8091/greetings');
  expect(notes).toMatch(
    /curl -X PUT -H "Content-Type: application\/vnd\.example\/GreetRequest"[\s\\]+-d '\{"name":"Alice"\}' http:\/\/localhost:8090\/example\/playground-greeter\/alice/,
  );
  expect(notes).toContain('exec -it statefulset/demo-continuum-kafka');
  expect(notes).toContain('kafka-console-producer.sh --bootstrap-server localhost:9092 --topic names');
  expect(notes).toContain('--isolation-level read_committed');
  expect(notes).toContain('Function:  http://demo-greeter:8000/{function.name}');
  expect(notes).not.toContain('WARNING');
});

test('the default notes warn that Kafka and Redis are placeholders and explain record keys', async () => {
  const notes = await renderNotes();
  expect(notes).toContain('WARNING: kafka.brokers is the placeholder "kafka:9092"');
  expect(notes).toContain('WARNING: redis.url is the placeholder "redis://redis:6379/0"');
  expect(notes).toContain('The record key is the id of the target function instance');
  expect(notes).not.toContain('port-forward service/demo-continuum-playground');
});

test('the production notes carry no placeholder warning', async () => {
  const notes = await renderNotes({ files: [ciValues('existing-secrets-values.yaml')] });
  expect(notes).toContain('b-1.kafka.internal.example.com:9096');
  expect(notes).not.toContain('WARNING');
});

test('the notes show how to send an event through the admin API, fetching the admin token when there is one', async () => {
  const generated = await renderNotes();
  expect(generated).toContain('kubectl -n streaming port-forward service/demo-continuum 9090:9090');
  expect(generated).toContain(
    `statefun send example/greeter/alice --type example/GreetRequest --json '{"name":"Alice"}'`,
  );
  expect(generated).toContain(
    `export CONTINUUM_ADMIN_TOKEN="$(kubectl -n streaming get secret demo-continuum -o jsonpath='{.data.admin-token}' | base64 -d)"`,
  );
  const open = await renderNotes({ values: { admin: { insecure: true } } });
  expect(open).not.toContain('CONTINUUM_ADMIN_TOKEN');
  const guarded = await renderNotes({ files: [ciValues('existing-secrets-values.yaml')] });
  expect(guarded).toContain(
    `export CONTINUUM_ADMIN_TOKEN="$(kubectl -n streaming get secret continuum-admin -o jsonpath='{.data.token}' | base64 -d)"`,
  );
  expect(guarded).toContain('-H "Authorization: Bearer $CONTINUUM_ADMIN_TOKEN"');
});
