// Round trips and pinned bytes of the Redis store's address and timer blobs, and what a damaged or
// foreign blob does.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ADDRESS_BLOB_VERSION,
  decodeAddress,
  decodeTimer,
  encodeAddress,
  encodeTimer,
} from '../../src/state/redis-blob-codec.js';
import type { StoredTimer, StoredValue } from '../../src/state/state-store.js';

const text = fc.string({ unit: 'binary', maxLength: 40 });
const content = fc.uint8Array({ maxLength: 600 }).map((u) => Uint8Array.from(u));
const time = fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.double({ noNaN: true }));

const storedValue: fc.Arbitrary<StoredValue> = fc
  .record({ typename: text, value: content, expiresAt: fc.option(time, { nil: undefined }) })
  .map(({ typename, value, expiresAt }) =>
    expiresAt === undefined ? { typename, value } : { typename, value, expiresAt },
  );

const states = fc
  .uniqueArray(fc.tuple(text, storedValue), { selector: ([name]) => name, maxLength: 12 })
  .map((entries) => Object.fromEntries(entries));

const storedTimer: fc.Arbitrary<StoredTimer> = fc
  .record({
    id: text,
    fireAt: time,
    targetKey: text,
    callerKey: text,
    typename: text,
    value: content,
    userToken: fc.boolean(),
    eventTime: fc.option(time, { nil: undefined }),
  })
  .map(({ eventTime, ...rest }) => (eventTime === undefined ? rest : { ...rest, eventTime }));

describe('address blobs', () => {
  it('decode to the states they were encoded from', () => {
    fc.assert(
      fc.property(states, (s) => {
        expect(decodeAddress(encodeAddress(s), 'test')).toEqual({ states: s });
      }),
      { numRuns: 300 },
    );
  });

  it('keep a state named __proto__ as an ordinary entry', () => {
    const s = Object.fromEntries([['__proto__', { typename: 't', value: Uint8Array.from([1]) }]]) as Record<
      string,
      StoredValue
    >;
    const decoded = decodeAddress(encodeAddress(s), 'test');
    expect(Object.keys(decoded.states)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(decoded.states)).toBe(Object.prototype);
  });

  it('have the documented version 1 layout', () => {
    const blob = encodeAddress({
      a: { typename: 'T', value: Uint8Array.from([7]) },
      b: { typename: '', value: new Uint8Array(130), expiresAt: 1 },
    });
    const expected = Buffer.concat([
      Buffer.from([ADDRESS_BLOB_VERSION, 2]),
      Buffer.from([1, 0x61, 1, 0x54, 0, 1, 7]),
      Buffer.from([1, 0x62, 0, 1]),
      Buffer.from([0, 0, 0, 0, 0, 0, 0xf0, 0x3f]),
      Buffer.from([0x82, 0x01]),
      Buffer.alloc(130),
    ]);
    expect(Buffer.from(blob).toString('hex')).toBe(expected.toString('hex'));
  });

  it('decode into copies that do not share memory with the blob', () => {
    const blob = encodeAddress({ a: { typename: 't', value: Uint8Array.from([1, 2, 3]) } });
    const decoded = decodeAddress(blob, 'test');
    blob.fill(0);
    expect(decoded.states.a!.value).toEqual(Uint8Array.from([1, 2, 3]));
    expect(decoded.states.a!.value.constructor).toBe(Uint8Array);
  });

  it('are refused with STATE_CORRUPT and the location when the version is unknown', () => {
    const blob = encodeAddress({});
    blob[0] = 9;
    expect(() => decodeAddress(blob, '{c:p1}:state field "k"')).toThrow(
      expect.objectContaining({
        code: 'STATE_CORRUPT',
        message: expect.stringContaining('{c:p1}:state field "k"'),
      }),
    );
  });

  it('are refused when truncated anywhere or followed by extra bytes', () => {
    fc.assert(
      fc.property(
        states.filter((s) => Object.keys(s).length > 0),
        fc.nat(),
        (s, cut) => {
          const blob = encodeAddress(s);
          const truncated = blob.subarray(0, cut % blob.length);
          expect(() => decodeAddress(truncated, 'test')).toThrow(
            expect.objectContaining({ code: 'STATE_CORRUPT' }),
          );
          expect(() => decodeAddress(Buffer.concat([blob, Buffer.from([0])]), 'test')).toThrow(
            expect.objectContaining({ code: 'STATE_CORRUPT' }),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('are refused when a state carries unknown flags', () => {
    const blob = encodeAddress({ a: { typename: 't', value: new Uint8Array() } });
    blob[1 + 1 + 2 + 2] = 0x80;
    expect(() => decodeAddress(blob, 'test')).toThrow(expect.objectContaining({ code: 'STATE_CORRUPT' }));
  });
});

describe('timer blobs', () => {
  it('decode to every field of the timer they were encoded from', () => {
    fc.assert(
      fc.property(storedTimer, (t) => {
        expect(decodeTimer(encodeTimer(t), 'test')).toEqual(t);
      }),
      { numRuns: 300 },
    );
  });

  it('have the documented version 1 layout', () => {
    const blob = encodeTimer({
      id: 'i',
      fireAt: 2,
      targetKey: 'x',
      callerKey: '',
      typename: 'T',
      value: Uint8Array.from([5, 6]),
      userToken: true,
      eventTime: 1,
    });
    const expected = Buffer.concat([
      Buffer.from([1, 3]),
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x40]),
      Buffer.from([0, 0, 0, 0, 0, 0, 0xf0, 0x3f]),
      Buffer.from([1, 0x69, 1, 0x78, 0, 1, 0x54, 2, 5, 6]),
    ]);
    expect(Buffer.from(blob).toString('hex')).toBe(expected.toString('hex'));
  });

  it('keep the kind of an event-time timer (flag bit 2) and leave it out for a delayed message', () => {
    const base = {
      id: 'i',
      fireAt: 60_000,
      targetKey: 'a',
      callerKey: 'b',
      typename: 't',
      value: new Uint8Array(),
      userToken: true,
      eventTime: 60_000,
    };
    const blob = encodeTimer({ ...base, kind: 'event-time' });
    expect(blob[1]).toBe(1 | 2 | 4);
    expect(decodeTimer(blob, 'test')).toEqual({ ...base, kind: 'event-time' });
    expect('kind' in decodeTimer(encodeTimer(base), 'test')).toBe(false);
  });

  it('leave eventTime out when the timer has none', () => {
    const t = decodeTimer(
      encodeTimer({
        id: 'i',
        fireAt: 1,
        targetKey: 'a',
        callerKey: 'b',
        typename: 't',
        value: new Uint8Array(),
        userToken: false,
      }),
      'test',
    );
    expect('eventTime' in t).toBe(false);
    expect(t.userToken).toBe(false);
  });

  it('are refused when truncated, extended, of another version or with unknown flags', () => {
    const blob = encodeTimer({
      id: 'i',
      fireAt: 1,
      targetKey: 'a',
      callerKey: 'b',
      typename: 't',
      value: Uint8Array.from([1]),
      userToken: false,
    });
    for (let cut = 0; cut < blob.length; cut++)
      expect(() => decodeTimer(blob.subarray(0, cut), 'test')).toThrow(
        expect.objectContaining({ code: 'STATE_CORRUPT' }),
      );
    expect(() => decodeTimer(Buffer.concat([blob, Buffer.from([1])]), 'test')).toThrow(
      expect.objectContaining({ code: 'STATE_CORRUPT' }),
    );
    const otherVersion = Buffer.from(blob);
    otherVersion[0] = 2;
    expect(() => decodeTimer(otherVersion, 'test')).toThrow(
      expect.objectContaining({ code: 'STATE_CORRUPT' }),
    );
    const badFlags = Buffer.from(blob);
    badFlags[1] = 8;
    expect(() => decodeTimer(badFlags, 'test')).toThrow(expect.objectContaining({ code: 'STATE_CORRUPT' }));
  });
});
