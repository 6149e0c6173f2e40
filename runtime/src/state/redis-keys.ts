// Key layout of the Redis state store: every key of a partition shares one Redis Cluster hash tag,
// so each Lua script touches a single slot; and the CRC16 slot function, to find that slot's node.

/** The Redis keys of one partition; all share the hash tag `{<prefix>:p<partition>}`. */
export interface RedisPartitionKeys {
  /** The hash tag itself, braces included, e.g. `{continuum:p7}`. */
  readonly tag: string;
  /** Owner epoch, a counter bumped by every claim. */
  readonly epoch: string;
  /** Hash: address key → address blob (the address's whole committed state). */
  readonly state: string;
  /** Hash: timer id → timer blob (committed pending timers). */
  readonly timers: string;
  /** Hash: partition metadata (name → value), replaced wholesale by a checkpoint that carries it. */
  readonly meta: string;
  /** Hash: the staged delta (see the field layout in redis-scripts.ts). */
  readonly staged: string;
  /** Checkpoint id of the complete staged delta; absent while nothing (complete) is staged. */
  readonly stagedId: string;
  /** Checkpoint id of the last promoted delta. */
  readonly promoted: string;
}

/**
 * The keys of partition `partition` under `prefix`. The order of {@link scriptKeys} is the KEYS
 * order every script relies on.
 */
export function redisPartitionKeys(prefix: string, partition: number): RedisPartitionKeys {
  const tag = `{${prefix}:p${partition}}`;
  return {
    tag,
    epoch: `${tag}:epoch`,
    state: `${tag}:state`,
    timers: `${tag}:timers`,
    meta: `${tag}:meta`,
    staged: `${tag}:staged`,
    stagedId: `${tag}:staged-id`,
    promoted: `${tag}:promoted`,
  };
}

/** KEYS[1..7] of every script, in this order. */
export function scriptKeys(k: RedisPartitionKeys): string[] {
  return [k.epoch, k.state, k.timers, k.meta, k.staged, k.stagedId, k.promoted];
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc;
}

/**
 * The Redis Cluster slot of `key` (CRC16-XMODEM of the key, or of its first non-empty `{...}`
 * hash tag, modulo 16384), as the cluster specification defines it.
 */
export function clusterSlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % 16384;
  }
  return crc16(bytes) % 16384;
}
