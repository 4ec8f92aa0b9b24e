/**
 * Lua of the Redis event log. Keys (under the prefix `p`), all with the log's
 * TTL, refreshed by `open` and `append`:
 * - `p e:<session>:<stream>`: the kept events, a Redis Stream whose entry ids
 *   are our sequence numbers (`<seq>-0`), each entry one field `d`;
 * - `p m:<session>:<stream>`: the stream's metadata (hash): `seq` (last number
 *   given), `bytes` (kept), `done`, `replica`, `rid` (the request id as JSON,
 *   empty for the standalone stream);
 * - `p l:<session>`: the session's streams (sorted set, scored by open order);
 * - `p lb:<session>`: the session's counters (hash): `bytes` kept over its
 *   streams, `opened` (the open order).
 */
const HELPERS = `
local function skey(p, session, s) return p .. 'e:' .. session .. ':' .. s end
local function mkey(p, session, s) return p .. 'm:' .. session .. ':' .. s end
-- Lua writes -0 for a negated 0, which HINCRBY refuses: subtract only what is there.
local function less(key, n) if n > 0 then redis.call('HINCRBY', key, 'bytes', -n) end end
`;

/**
 * KEYS: meta, index, counters. ARGV: prefix, session, stream, replica, rid,
 * ttl, maxStreams. Opening a stream that exists changes nothing. Past
 * maxStreams, the oldest ended streams are dropped (running ones never).
 */
export const OPEN = `${HELPERS}
local p, session, stream = ARGV[1], ARGV[2], ARGV[3]
local ttl, maxStreams = tonumber(ARGV[6]), tonumber(ARGV[7])
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'seq', 0, 'bytes', 0, 'done', 0, 'replica', ARGV[4], 'rid', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], redis.call('HINCRBY', KEYS[3], 'opened', 1), stream)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
local count = redis.call('ZCARD', KEYS[2])
if count <= maxStreams then return 1 end
for _, s in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if count <= maxStreams then break end
  if s ~= stream then
    local m = mkey(p, session, s)
    local done = redis.call('HGET', m, 'done')
    if not done then
      redis.call('ZREM', KEYS[2], s)
      count = count - 1
    elseif done == '1' then
      less(KEYS[3], tonumber(redis.call('HGET', m, 'bytes')) or 0)
      redis.call('DEL', skey(p, session, s), m)
      redis.call('ZREM', KEYS[2], s)
      count = count - 1
    end
  end
end
return 1
`;

/**
 * KEYS: meta, stream, index, counters. ARGV: prefix, session, stream, data,
 * maxEvents, maxStreamBytes, maxSessionBytes, ttl. Returns the event's number,
 * or 0 when the stream is not known. An event larger than maxStreamBytes is
 * numbered, not kept. Room in the stream is made by hand (oldest first) so its
 * byte count stays exact; MAXLEN on XADD is the backstop for the count.
 */
export const APPEND = `${HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local p, session, stream, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local maxEvents, maxStreamBytes = tonumber(ARGV[5]), tonumber(ARGV[6])
local maxSessionBytes, ttl = tonumber(ARGV[7]), tonumber(ARGV[8])
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
redis.call('PEXPIRE', KEYS[4], ttl)
local size = #data
if size > maxStreamBytes or maxEvents < 1 then return seq end
local kept = tonumber(redis.call('HGET', KEYS[1], 'bytes')) or 0
local n = redis.call('XLEN', KEYS[2])
while n > 0 and (n >= maxEvents or kept + size > maxStreamBytes) do
  local e = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  redis.call('XDEL', KEYS[2], e[1])
  kept = kept - #e[2][2]
  less(KEYS[4], #e[2][2])
  n = n - 1
end
redis.call('XADD', KEYS[2], 'MAXLEN', maxEvents, seq .. '-0', 'd', data)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('HSET', KEYS[1], 'bytes', kept + size)
local total = redis.call('HINCRBY', KEYS[4], 'bytes', size)
redis.call('PEXPIRE', KEYS[4], ttl)
if total <= maxSessionBytes then return seq end
-- Past the session's bound. Recount first: the counter may still hold the bytes of streams that
-- expired on their own.
total = 0
local streams = {}
for _, s in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local b = redis.call('HGET', mkey(p, session, s), 'bytes')
  if b then
    total = total + tonumber(b)
    streams[#streams + 1] = s
  else
    redis.call('ZREM', KEYS[3], s)
  end
end
-- Ended streams whole, oldest first (never the one being written).
local rest = {}
for _, s in ipairs(streams) do
  local m = mkey(p, session, s)
  local b = tonumber(redis.call('HGET', m, 'bytes'))
  if total > maxSessionBytes and s ~= stream and b > 0 and redis.call('HGET', m, 'done') == '1' then
    redis.call('DEL', skey(p, session, s), m)
    redis.call('ZREM', KEYS[3], s)
    total = total - b
  else
    rest[#rest + 1] = s
  end
end
-- Then the oldest events of the oldest streams.
for _, s in ipairs(rest) do
  if total <= maxSessionBytes then break end
  local sk, m = skey(p, session, s), mkey(p, session, s)
  local b = tonumber(redis.call('HGET', m, 'bytes'))
  while total > maxSessionBytes do
    local e = redis.call('XRANGE', sk, '-', '+', 'COUNT', 1)[1]
    if not e then break end
    redis.call('XDEL', sk, e[1])
    b = b - #e[2][2]
    total = total - #e[2][2]
  end
  redis.call('HSET', m, 'bytes', b)
end
redis.call('HSET', KEYS[4], 'bytes', total)
return seq
`;

/** KEYS: meta. Marks the stream ended when it is known. */
export const END = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'done', 1) end
return 0
`;

/** KEYS: meta, stream. ARGV: first entry id. Returns {done, replica, rid, seq, entries} or nil, read at once. */
export const REPLAY = `
local m = redis.call('HMGET', KEYS[1], 'done', 'replica', 'rid', 'seq')
if not m[2] then return false end
return {m[1], m[2], m[3], m[4], redis.call('XRANGE', KEYS[2], ARGV[1], '+')}
`;

/** KEYS: index, counters. ARGV: prefix, session. Deletes every stream of the session. */
export const DROP = `${HELPERS}
for _, s in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  redis.call('DEL', skey(ARGV[1], ARGV[2], s), mkey(ARGV[1], ARGV[2], s))
end
redis.call('DEL', KEYS[1], KEYS[2])
return 0
`;
