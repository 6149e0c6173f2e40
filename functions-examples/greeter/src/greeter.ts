// The greeter: counts the visits of each user (its id) and answers every visit with a greeting, through a
// Kafka egress or through the playground egress.
import { z } from 'zod';
import {
  jsonType,
  kafkaEgressMessage,
  playgroundEgressMessage,
  statefulFunction,
  types,
  valueSpec,
  type Message,
  type StatefulFunction,
} from '@continuum/sdk';

/** Function type of the greeter that replies through the Kafka egress. */
export const GREETER = 'example/greeter';
/** Function type of the greeter that replies through the playground egress. */
export const PLAYGROUND_GREETER = 'example/playground-greeter';
/** Kafka egress id the greeter writes to (declare it in module.yaml). */
export const GREETS_EGRESS = 'example/greets';
/** Topic of the greetings, in Kafka and in the playground egress. */
export const GREETINGS_TOPIC = 'greetings';

/** A greet request as JSON, e.g. from a Kafka topic with `valueType: example/GreetRequest`. */
export const GreetRequest = jsonType('example/GreetRequest', z.object({ name: z.string().min(1) }));

/** The greeting for the `visit`-th visit of `name`. */
export function greetingFor(name: string, visit: number): string {
  return visit === 1 ? `Hello ${name}! Welcome.` : `Hello ${name}! Nice to see you again (visit #${visit}).`;
}

function nameOf(message: Message): string {
  if (message.is(GreetRequest)) return message.as(GreetRequest).name;
  if (message.isString()) return message.asString();
  throw new Error(
    `the greeter reads ${GreetRequest.typename} or io.statefun.types/string messages, not ${message.typename}`,
  );
}

/** Where a greeter sends its greetings. */
export type GreetingSink = 'kafka' | 'playground';

/** Builds a greeter function of type `typename` that replies to `sink`. */
export function greeterFunction(typename: string, sink: GreetingSink) {
  return statefulFunction({
    typename,
    specs: { seen: valueSpec(types.int) },
    handler(ctx, message) {
      const name = nameOf(message);
      const seen = (ctx.storage.seen ?? 0) + 1;
      ctx.storage.seen = seen;
      const greeting = greetingFor(name, seen);
      ctx.sendEgress(
        sink === 'kafka'
          ? kafkaEgressMessage({
              typename: GREETS_EGRESS,
              topic: GREETINGS_TOPIC,
              key: ctx.self.id,
              value: greeting,
            })
          : playgroundEgressMessage({ topic: GREETINGS_TOPIC, payload: greeting }),
      );
    },
  });
}

/** The greeter replying through the Kafka egress `example/greets`, topic `greetings`. */
export const greeter = greeterFunction(GREETER, 'kafka');

/** The same greeter replying through the playground egress, topic `greetings`. */
export const playgroundGreeter = greeterFunction(PLAYGROUND_GREETER, 'playground');

/** Every function of this example, to serve them together. */
export const functions: readonly StatefulFunction[] = [greeter, playgroundGreeter];
