// Loads the official StateFun JS SDK (apache-flink-statefun@3.3.0, CommonJS over google-protobuf) and calls
// it in-process through its public `StateFun.handle(req, res)` with a fake request and response.
import { createRequire } from 'node:module';
import type * as Official from 'apache-flink-statefun';

const require = createRequire(import.meta.url);

/** The official SDK's public API. */
export const official = require('apache-flink-statefun') as typeof Official;

/** A google-protobuf message, as far as these tests use it. */
export interface PbMessage {
  serializeBinary(): Uint8Array;
  toObject(): unknown;
}

/** A google-protobuf generated class, as far as these tests use it. */
export interface PbClass<M extends PbMessage = PbMessage> {
  new (): M;
  deserializeBinary(bytes: Uint8Array): M;
}

/** A generated wrapper of io.statefun.sdk.types. */
export interface PbWrapper extends PbMessage {
  setValue(value: unknown): void;
  getValue(): unknown;
}

interface PbKafkaRecord extends PbMessage {
  getKey(): string;
  getValueBytes_asU8(): Uint8Array;
  getTopic(): string;
}

/** The generated classes the official SDK registers on the global `proto` namespace when it loads. */
export const pb = (
  globalThis as unknown as {
    proto: {
      io: {
        statefun: {
          sdk: {
            reqreply: { ToFunction: PbClass; FromFunction: PbClass; TypedValue: PbClass };
            types: Record<
              | 'IntWrapper'
              | 'LongWrapper'
              | 'FloatWrapper'
              | 'DoubleWrapper'
              | 'BooleanWrapper'
              | 'StringWrapper',
              PbClass<PbWrapper>
            >;
            egress: { KafkaProducerRecord: PbClass<PbKafkaRecord> };
          };
        };
      };
    };
  }
).proto.io.statefun.sdk;

/** Runs one request through the official SDK's HTTP handler without a socket; returns status and body. */
export async function officialHandle(
  sf: Official.StateFun,
  body: Uint8Array,
): Promise<{ status: number; body: Uint8Array }> {
  let status = 0;
  let out = new Uint8Array(0);
  const req = [Buffer.from(body)];
  const res = {
    writeHead(code: number) {
      status = code;
    },
    end(buf?: Uint8Array) {
      if (buf !== undefined) out = new Uint8Array(buf);
    },
  };
  await sf.handle(req, res);
  return { status, body: out };
}
