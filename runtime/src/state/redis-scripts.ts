// The Lua scripts of the Redis state store: fenced stage, idempotent promote and resolve. Each runs
// atomically on the one slot of its partition; KEYS are always the seven keys of `scriptKeys`.
//
// Staged hash fields:
//   `#`           checkpoint id being staged (set by the first call of a stage, checked by the others)
//   `a:<address>` the address's new whole state (address blob), empty = delete the address
//   `t:<timerId>` a timer added (timer blob), empty = timer removed
//   `M`           present when the delta carries metadata: the meta hash is replaced wholesale
//   `m:<name>`    a metadata value of that replacement
// `staged-id` is only set by the last call of a stage, so a stage cut short by a crash or a fence
// is never promoted: resolve sees no staged id and drops the partial hash.

/** Most Lua stack slots handed to one `redis.call` (Lua's `unpack` has a limit near 8000). */
const CHUNK = 400;

// `#!lua` makes Redis refuse the whole script up front when it cannot write (OOM, read-only
// replica, failed persistence) instead of failing a write half-way through a promote.
const PRELUDE = `#!lua
local CHUNK = ${CHUNK}

local function fence_error(epoch)
  local current = tonumber(redis.call('GET', KEYS[1]) or '0')
  if current ~= tonumber(epoch) then
    return redis.error_reply('FENCED the partition is owned with epoch ' .. current ..
      '; a write with epoch ' .. epoch .. ' was rejected')
  end
  return false
end

-- Redis does not roll a script back, so a key of the wrong type must stop it before its first write.
local function type_error()
  for _, i in ipairs({2, 3, 4, 5}) do
    local t = redis.call('TYPE', KEYS[i])['ok']
    if t ~= 'none' and t ~= 'hash' then
      return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. t .. ' where a hash belongs')
    end
  end
  return false
end

local function flush(cmd, key, args)
  for i = 1, #args, CHUNK do
    redis.call(cmd, key, unpack(args, i, math.min(i + CHUNK - 1, #args)))
  end
end
`;

// Applies the staged hash to state, timers and meta page by page (HSCAN), so that the script's
// memory stays bounded by a page however large the delta is. Applying a field twice (HSCAN may
// repeat one) does no harm: every field is a whole replacement or a delete.
const PROMOTE_STAGED = `
local function apply_staged()
  if redis.call('HEXISTS', KEYS[5], 'M') == 1 then redis.call('DEL', KEYS[4]) end
  local cursor = '0'
  repeat
    local page = redis.call('HSCAN', KEYS[5], cursor, 'COUNT', 200)
    cursor = page[1]
    local items = page[2]
    local state_set, state_del, timer_set, timer_del, meta_set = {}, {}, {}, {}, {}
    for i = 1, #items, 2 do
      local field, value = items[i], items[i + 1]
      local kind, name = string.sub(field, 1, 2), string.sub(field, 3)
      if kind == 'a:' then
        if value == '' then
          state_del[#state_del + 1] = name
        else
          state_set[#state_set + 1] = name
          state_set[#state_set + 1] = value
        end
      elseif kind == 't:' then
        if value == '' then
          timer_del[#timer_del + 1] = name
        else
          timer_set[#timer_set + 1] = name
          timer_set[#timer_set + 1] = value
        end
      elseif kind == 'm:' then
        meta_set[#meta_set + 1] = name
        meta_set[#meta_set + 1] = value
      end
    end
    flush('HSET', KEYS[2], state_set)
    flush('HDEL', KEYS[2], state_del)
    flush('HSET', KEYS[3], timer_set)
    flush('HDEL', KEYS[3], timer_del)
    flush('HSET', KEYS[4], meta_set)
  until cursor == '0'
end

local function promote_staged(id)
  local promoted = tonumber(redis.call('GET', KEYS[7]) or '0')
  if tonumber(id) > promoted then
    apply_staged()
    redis.call('SET', KEYS[7], id)
  end
  redis.call('DEL', KEYS[5], KEYS[6])
end
`;

/** ARGV: epoch, checkpoint id, flags (1 = first call, 2 = last call), field/value pairs... */
export const STAGE_SCRIPT = `${PRELUDE}
local err = fence_error(ARGV[1]) or type_error()
if err then return err end
local id, flags = ARGV[2], tonumber(ARGV[3])
if flags % 2 == 1 then
  redis.call('DEL', KEYS[5], KEYS[6])
  redis.call('HSET', KEYS[5], '#', id)
elseif redis.call('HGET', KEYS[5], '#') ~= id then
  return redis.error_reply('STAGE_INTERRUPTED the staged delta of checkpoint ' .. id ..
    ' was replaced or resolved while it was being written')
end
for i = 4, #ARGV, CHUNK do
  redis.call('HSET', KEYS[5], unpack(ARGV, i, math.min(i + CHUNK - 1, #ARGV)))
end
if flags >= 2 then redis.call('SET', KEYS[6], id) end
return 'staged'
`;

/** ARGV: epoch, checkpoint id. Returns 'promoted' or 'already'. */
export const PROMOTE_SCRIPT = `${PRELUDE}${PROMOTE_STAGED}
local err = fence_error(ARGV[1]) or type_error()
if err then return err end
local id = tonumber(ARGV[2])
if id <= tonumber(redis.call('GET', KEYS[7]) or '0') then return 'already' end
local staged = redis.call('GET', KEYS[6])
if not staged or tonumber(staged) ~= id then
  return redis.error_reply('CHECKPOINT_NOT_STAGED checkpoint ' .. ARGV[2] ..
    ' is not staged (staged: ' .. (staged or 'none') .. ')')
end
promote_staged(staged)
return 'promoted'
`;

/** ARGV: epoch, committed checkpoint id. Returns 'promoted', 'discarded' or 'none'. */
export const RESOLVE_SCRIPT = `${PRELUDE}${PROMOTE_STAGED}
local err = fence_error(ARGV[1]) or type_error()
if err then return err end
local staged = redis.call('GET', KEYS[6])
if not staged then
  redis.call('DEL', KEYS[5])
  return 'none'
end
if tonumber(staged) <= tonumber(ARGV[2]) then
  promote_staged(staged)
  return 'promoted'
end
redis.call('DEL', KEYS[5], KEYS[6])
return 'discarded'
`;

/** Flags argument of {@link STAGE_SCRIPT}. */
export const STAGE_FIRST = 1;
export const STAGE_LAST = 2;
