// Renders a typed value for people: primitives decoded, JSON-looking UTF-8 parsed, else base64.
import {
  decodeBool,
  decodeDouble,
  decodeFloat,
  decodeInt,
  decodeLong,
  decodeString,
  PrimitiveTypeName,
} from '@continuum/sdk/protocol';

export function describeValue(typename: string, bytes: Uint8Array): { value?: unknown; base64: string } {
  const base64 = Buffer.from(bytes).toString('base64');
  try {
    switch (typename) {
      case PrimitiveTypeName.bool:
        return { value: decodeBool(bytes), base64 };
      case PrimitiveTypeName.int:
        return { value: decodeInt(bytes), base64 };
      case PrimitiveTypeName.long:
        return { value: decodeLong(bytes).toString(), base64 };
      case PrimitiveTypeName.float:
        return { value: decodeFloat(bytes), base64 };
      case PrimitiveTypeName.double:
        return { value: decodeDouble(bytes), base64 };
      case PrimitiveTypeName.string:
        return { value: decodeString(bytes), base64 };
      default: {
        const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        return { value: JSON.parse(text) as unknown, base64 };
      }
    }
  } catch {
    return { base64 };
  }
}

/**
 * Renders a Kafka record value for people: by the value type when it is a primitive one, else
 * JSON-looking UTF-8 parsed (`value`), other UTF-8 as `text`; the bytes always as base64.
 */
export function describeRecordValue(
  typename: string | undefined,
  bytes: Uint8Array,
): { value?: unknown; text?: string; base64: string } {
  if (typename !== undefined && Object.values(PrimitiveTypeName).includes(typename as never)) {
    const described = describeValue(typename, bytes);
    if ('value' in described) return described;
  }
  const base64 = Buffer.from(bytes).toString('base64');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { base64 };
  }
  try {
    return { value: JSON.parse(text) as unknown, base64 };
  } catch {
    return { text, base64 };
  }
}
