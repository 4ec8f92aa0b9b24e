import { LUA_EXTEND } from "./client.js";

/**
 * Lua of the Redis session store. Each runs atomically, so replicas creating,
 * opening and evicting at once never see half a change. Keys (under the
 * prefix `p`): `p s:<id>` the record (hash), `p sessions` every id scored by
 * last seen (sorted set), `p o:<owner>` one owner's ids scored the same way,
 * `p owners` id → owner (hash, to clean an owner's set when a record expired
 * on its own). Scripts touch keys derived from data (an owner's set), which
 * they do not declare: fine on one Redis (with or without Sentinel), not on
 * Redis Cluster.
 */
const HELPERS = `${LUA_EXTEND}
local function busy(p, sid, now)
  local b = redis.call('HGET', p .. 's:' .. sid, 'busyUntil')
  return b and tonumber(b) > now
end
local function remove(p, global, owners, sid)
  local owner = redis.call('HGET', p .. 's:' .. sid, 'owner') or redis.call('HGET', owners, sid)
  local existed = redis.call('DEL', p .. 's:' .. sid)
  redis.call('ZREM', global, sid)
  redis.call('HDEL', owners, sid)
  if owner then redis.call('ZREM', p .. 'o:' .. owner, sid) end
  return existed
end
`;

/**
 * KEYS: global, owners, owner's set, record. ARGV: prefix, id, owner, now,
 * maxSessions, maxPerOwner, ttl, lastSeen, then the record's field/value pairs.
 * Returns {'ok', evicted…} or {'client'} or {'full'}; nothing is deleted on refusal.
 */
export const CREATE = `${HELPERS}
local p, id, owner = ARGV[1], ARGV[2], ARGV[3]
local now, maxAll, maxOwn, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
remove(p, KEYS[1], KEYS[2], id)
local victims, chosen = {}, {}
local need = redis.call('ZCARD', KEYS[3]) - maxOwn + 1
if need > 0 then
  for _, sid in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    if not busy(p, sid, now) then
      victims[#victims + 1] = sid
      chosen[sid] = true
      if #victims == need then break end
    end
  end
  if #victims < need then return {'client'} end
end
need = redis.call('ZCARD', KEYS[1]) - #victims - maxAll + 1
if need > 0 then
  local found, from = 0, 0
  while found < need do
    local batch = redis.call('ZRANGE', KEYS[1], from, from + 99)
    if #batch == 0 then break end
    for _, sid in ipairs(batch) do
      if not chosen[sid] and not busy(p, sid, now) then
        victims[#victims + 1] = sid
        chosen[sid] = true
        found = found + 1
        if found == need then break end
      end
    end
    from = from + 100
  end
  if found < need then return {'full'} end
end
for _, sid in ipairs(victims) do remove(p, KEYS[1], KEYS[2], sid) end
redis.call('HSET', KEYS[4], unpack(ARGV, 9))
redis.call('PEXPIRE', KEYS[4], ttl)
redis.call('ZADD', KEYS[1], ARGV[8], id)
redis.call('ZADD', KEYS[3], ARGV[8], id)
redis.call('HSET', KEYS[2], id, owner)
extend(KEYS[1], ttl)
extend(KEYS[2], ttl)
extend(KEYS[3], ttl)
return {'ok', unpack(victims)}
`;

/**
 * KEYS: record, global, owners. ARGV: prefix, id, now, idleMs. Returns the
 * record's field/value pairs with lastSeen = now, or nil; the record's TTL
 * becomes the idle timeout (longer while it is held busy).
 */
export const OPEN = `${LUA_EXTEND}
local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return false end
local now, idle = tonumber(ARGV[3]), tonumber(ARGV[4])
local owner, busyUntil = nil, 0
for i = 1, #f, 2 do
  if f[i] == 'owner' then owner = f[i + 1]
  elseif f[i] == 'busyUntil' then busyUntil = tonumber(f[i + 1]) or 0
  elseif f[i] == 'lastSeen' then f[i + 1] = ARGV[3] end
end
local ttl = math.max(idle, busyUntil - now + idle)
redis.call('HSET', KEYS[1], 'lastSeen', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], 'XX', ARGV[3], ARGV[2])
extend(KEYS[2], ttl)
extend(KEYS[3], ttl)
if owner then
  local mine = ARGV[1] .. 'o:' .. owner
  redis.call('ZADD', mine, 'XX', ARGV[3], ARGV[2])
  extend(mine, ttl)
end
return f
`;

/**
 * KEYS: record, global, owners. ARGV: prefix, until, ttl. Sets busyUntil (0
 * releases); TTLs only lengthen, so a released session still lives out its
 * idle timeout from its last open.
 */
export const HOLD = `${LUA_EXTEND}
local f = redis.call('HMGET', KEYS[1], 'busyUntil', 'owner')
if not f[1] then return 0 end
redis.call('HSET', KEYS[1], 'busyUntil', ARGV[2])
local ttl = tonumber(ARGV[3])
extend(KEYS[1], ttl)
extend(KEYS[2], ttl)
extend(KEYS[3], ttl)
if f[2] then extend(ARGV[1] .. 'o:' .. f[2], ttl) end
return 1
`;

/** KEYS: record. ARGV: field/value pairs, set only when the record exists. */
export const UPDATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return 0
`;

/** KEYS: global, owners, record. ARGV: prefix, id. Returns 1 when the record existed. */
export const DELETE = `${HELPERS}
return remove(ARGV[1], KEYS[1], KEYS[2], ARGV[2])
`;

/**
 * KEYS: global, owners. ARGV: prefix, now, "(<now - idleMs>". Deletes the
 * sessions last seen before the cut that are not busy, and ids whose record
 * expired on its own; returns their ids.
 */
export const SWEEP = `${HELPERS}
local now, gone = tonumber(ARGV[2]), {}
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])) do
  if not busy(ARGV[1], sid, now) then
    remove(ARGV[1], KEYS[1], KEYS[2], sid)
    gone[#gone + 1] = sid
  end
end
return gone
`;
