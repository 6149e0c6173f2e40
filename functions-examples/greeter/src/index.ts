// `@continuum/example-greeter`: the greeter functions, exported so that another service can serve them.
export {
  functions,
  greeter,
  greeterFunction,
  GreetRequest,
  GREETER,
  GREETINGS_TOPIC,
  GREETS_EGRESS,
  greetingFor,
  PLAYGROUND_GREETER,
  playgroundGreeter,
} from './greeter.js';
export type { GreetingSink } from './greeter.js';
