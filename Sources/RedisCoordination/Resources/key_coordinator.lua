-- Key coordination for one pool, atomically, in one round trip. Data layout version 1 ("rk1").
--
-- KEYS (one hash tag per pool, so a Redis Cluster keeps them on one slot):
--   1 schedule  ZSET  member = key id, score = the time the key may next be used (the "virtual clock")
--   2 meta      HASH  version (config version the pool was seeded from), interval (pacing seconds),
--                     pcool / preason: the whole pool rests until then (account- or IP-wide rate limit), and why
--   3 keys      HASH  rej:<id> rejections in a row, cool:<id> cooling-until, inv:<id> invalid flag,
--                     quota:<id> until when the key's quota or credit is gone
--   4 usage     HASH  req:<id>, err:<id>, last:<id>, lerr:<id>: counters since the last drain
--   5 mrest     HASH  <id>|<model> -> until: the key rests for that model only (the provider's limit is per model);
--                     skipped while picking for that model, expired fields dropped when met or swept
-- ARGV[1] operation, ARGV[2] clock override in seconds ('' in production: Redis TIME is the only clock).
--
-- Redis holds only derivable state: when the pool is missing or older than the caller's version the script
-- answers 'reseed' and the node re-seeds it from its cache (ZADD NX keeps what is already there). meta's
-- `count` is how many keys the schedule should hold: a schedule gone while meta survives (evicted, deleted by
-- hand) is re-seeded too, where it would otherwise look like a pool without keys.

local schedule, meta, keys, usage, mrest = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local op = ARGV[1]

local now = clock_now()  -- ScriptResource.prelude: ARGV[2] when given, else Redis TIME

local function fmt(x) return string.format('%.6f', x) end

local function current_version()
  return tonumber(redis.call('HGET', meta, 'version') or '-1')
end

-- The pool must exist and be at least as new as what the caller knows.
local function needs_reseed(expected)
  local v = current_version()
  if v < 0 or v < tonumber(expected) then return true end
  local count = tonumber(redis.call('HGET', meta, 'count') or '0')
  return count > 0 and redis.call('EXISTS', schedule) == 0
end

local function record_count()
  redis.call('HSET', meta, 'count', redis.call('ZCARD', schedule))
end

-- Fields of mrest past this are not added (after a sweep of expired ones): a request for a model not recorded meets
-- the upstream's 429 itself, trying at most a few keys.
local MREST_LIMIT = 4096

local function sweep_model_rests()
  local all = redis.call('HGETALL', mrest)
  for i = 1, #all, 2 do
    if tonumber(all[i + 1]) <= now then redis.call('HDEL', mrest, all[i]) end
  end
end

if op == 'acquire' then
  -- ARGV[3] expected version, ARGV[4] excluded ids (comma-separated, may be empty), ARGV[5] the request's model
  -- ('' when it names none: only whole-key rests apply)
  if needs_reseed(ARGV[3]) then return {'reseed'} end
  local excluded, count = {}, 0
  for id in string.gmatch(ARGV[4], '[^,]+') do excluded[id] = true; count = count + 1 end
  local model = ARGV[5] or ''
  if model ~= '' and redis.call('EXISTS', mrest) == 0 then model = '' end
  -- Walk the schedule in score order; without model rests the count+1 smallest scores always hold the best key.
  local step = count + 1
  local batch = redis.call('ZRANGE', schedule, 0, step - 1, 'WITHSCORES')
  if #batch == 0 then return {'empty'} end
  local pool_cool = tonumber(redis.call('HGET', meta, 'pcool') or '0')
  if pool_cool > now then return {'wait', fmt(pool_cool - now)} end
  local soonest, offset = nil, 0
  while #batch > 0 do
    for i = 1, #batch, 2 do
      local id, score = batch[i], tonumber(batch[i + 1])
      local rest = 0
      if model ~= '' then
        local field = id .. '|' .. model
        rest = tonumber(redis.call('HGET', mrest, field) or '0')
        if rest > 0 and rest <= now then redis.call('HDEL', mrest, field); rest = 0 end
      end
      local frees = math.max(score, rest)
      if soonest == nil or frees < soonest then soonest = frees end
      if not excluded[id] and rest == 0 then
        if score > now then return {'wait', fmt(soonest - now)} end
        local interval = tonumber(redis.call('HGET', meta, 'interval') or '0')
        redis.call('ZADD', schedule, 'XX', fmt(math.max(score, now) + interval), id)
        redis.call('HINCRBY', usage, 'req:' .. id, 1)
        redis.call('HSET', usage, 'last:' .. id, fmt(now))
        -- The rejection count tells the node whether a success must be reported (one round trip otherwise).
        return {'key', id, redis.call('HGET', keys, 'rej:' .. id) or '0'}
      end
    end
    offset = offset + step
    step = 64
    batch = redis.call('ZRANGE', schedule, offset, offset + step - 1, 'WITHSCORES')
  end
  return {'wait', fmt(math.max(soonest - now, 0))}

elseif op == 'report' then
  -- ARGV[3] expected version, ARGV[4] key id, ARGV[5] outcome (ok|429|rej|fail), ARGV[6] cooldown seconds,
  -- ARGV[7] reason, ARGV[8] rejections before invalid, ARGV[9] quarantine schedule (comma-separated seconds),
  -- ARGV[10] minimum cooldown, ARGV[11] maximum cooldown, ARGV[12] model ('' : the rest is the whole key's)
  if needs_reseed(ARGV[3]) then return {'reseed'} end
  local id, outcome = ARGV[4], ARGV[5]
  if not redis.call('ZSCORE', schedule, id) then return {'none'} end
  if outcome == 'ok' then
    redis.call('HDEL', keys, 'rej:' .. id, 'quota:' .. id)
    return {'none'}
  end
  redis.call('HINCRBY', usage, 'err:' .. id, 1)
  if outcome == 'fail' then
    redis.call('HSET', usage, 'lerr:' .. id, ARGV[7])
    return {'none'}
  end
  if outcome == '429' or outcome == 'quota' then
    local seconds = math.min(math.max(tonumber(ARGV[6]), tonumber(ARGV[10])), tonumber(ARGV[11]))
    local untill = now + seconds
    local model = ARGV[12] or ''
    if model ~= '' then
      -- The provider's limit is per model: the key rests for this model only.
      local field = id .. '|' .. model
      if redis.call('HEXISTS', mrest, field) == 0 and redis.call('HLEN', mrest) >= MREST_LIMIT then sweep_model_rests() end
      if redis.call('HEXISTS', mrest, field) == 1 or redis.call('HLEN', mrest) < MREST_LIMIT then
        local previous = tonumber(redis.call('HGET', mrest, field) or '0')
        redis.call('HSET', mrest, field, fmt(math.max(previous, untill)))
      end
      if outcome == 'quota' then
        redis.call('HSET', usage, 'lerr:' .. id, ARGV[7])
      else
        redis.call('HSET', usage, 'lerr:' .. id, '429 rate limited by upstream for ' .. model)
      end
      return {'cooled', fmt(untill)}
    end
    local previous = tonumber(redis.call('HGET', keys, 'cool:' .. id) or '0')
    redis.call('HSET', keys, 'cool:' .. id, fmt(math.max(previous, untill)))
    local score = tonumber(redis.call('ZSCORE', schedule, id))
    redis.call('ZADD', schedule, 'XX', fmt(math.max(score, untill)), id)
    if outcome == 'quota' then
      local exhausted = tonumber(redis.call('HGET', keys, 'quota:' .. id) or '0')
      redis.call('HSET', keys, 'quota:' .. id, fmt(math.max(exhausted, untill)))
      redis.call('HSET', usage, 'lerr:' .. id, ARGV[7])
    else
      redis.call('HSET', usage, 'lerr:' .. id, '429 rate limited by upstream')
    end
    return {'cooled', fmt(untill)}
  end
  -- rejected (401/403)
  redis.call('HSET', usage, 'lerr:' .. id, ARGV[7])
  local rejections = redis.call('HINCRBY', keys, 'rej:' .. id, 1)
  if rejections >= tonumber(ARGV[8]) then
    redis.call('ZREM', schedule, id)
    record_count()
    redis.call('HSET', keys, 'inv:' .. id, '1')
    redis.call('HDEL', keys, 'cool:' .. id)
    return {'invalidated'}
  end
  local steps = {}
  for s in string.gmatch(ARGV[9], '[^,]+') do table.insert(steps, tonumber(s)) end
  local quarantine = 0
  if #steps > 0 then quarantine = steps[math.min(rejections, #steps)] end
  local untill = now + quarantine
  redis.call('HSET', keys, 'cool:' .. id, fmt(untill))
  local score = tonumber(redis.call('ZSCORE', schedule, id))
  redis.call('ZADD', schedule, 'XX', fmt(math.max(score, untill)), id)
  return {'quarantined', fmt(untill)}

elseif op == 'unpick' then
  -- ARGV[3] key id. An acquire whose key went unused (the client key's quota refused the request): the key's next use
  -- moves back by the pacing interval, never before now nor into a rest set since, and its request count drops by one
  -- (never below 0: a count already drained stays counted).
  local id = ARGV[3]
  local score = tonumber(redis.call('ZSCORE', schedule, id) or '-1')
  if score < 0 then return 'ok' end
  local interval = tonumber(redis.call('HGET', meta, 'interval') or '0')
  local cool = tonumber(redis.call('HGET', keys, 'cool:' .. id) or '0')
  local back = math.max(score - interval, now, cool)
  if back < score then redis.call('ZADD', schedule, 'XX', fmt(back), id) end
  if tonumber(redis.call('HGET', usage, 'req:' .. id) or '0') > 0 then redis.call('HINCRBY', usage, 'req:' .. id, -1) end
  return 'ok'

elseif op == 'sync' then
  -- ARGV[3] version, ARGV[4] pacing interval, ARGV[5] key ids (comma-separated). Idempotent: never resets
  -- the state of keys already there, never goes back to an older version.
  local version = tonumber(ARGV[3])
  if current_version() > version then return 'stale' end
  local wanted = {}
  for id in string.gmatch(ARGV[5], '[^,]+') do wanted[id] = true end
  for _, id in ipairs(redis.call('ZRANGE', schedule, 0, -1)) do
    if not wanted[id] then
      redis.call('ZREM', schedule, id)
      redis.call('HDEL', keys, 'rej:' .. id, 'cool:' .. id, 'inv:' .. id)
    end
  end
  for id in pairs(wanted) do
    -- An invalid key stays out until the store stops listing it (then a re-enable brings it back fresh).
    if redis.call('HEXISTS', keys, 'inv:' .. id) == 0 then
      redis.call('ZADD', schedule, 'NX', 0, id)
    end
  end
  for _, field in ipairs(redis.call('HKEYS', keys)) do
    local id = string.match(field, ':(.+)$')
    if id and not wanted[id] then redis.call('HDEL', keys, field) end
  end
  for _, field in ipairs(redis.call('HKEYS', mrest)) do
    local id = string.match(field, '^([^|]+)|')
    if id and not wanted[id] then redis.call('HDEL', mrest, field) end
  end
  redis.call('HSET', meta, 'version', version, 'interval', ARGV[4])
  record_count()
  return 'ok'

elseif op == 'remove' then
  -- Every key of the pool: its usage too (the pool's keys are gone from the store, so are their counters).
  redis.call('DEL', schedule, meta, keys, usage, mrest)
  return 'ok'

elseif op == 'states' then
  -- Flat list: id, cooling-until ('' when usable), rejections in a row, quota-exhausted-until ('' when not),
  -- the key's live model rests as a JSON object {model: until} ('' when none).
  local out, rests = {}, {}
  local all = redis.call('HGETALL', mrest)
  for i = 1, #all, 2 do
    local id, model = string.match(all[i], '^([^|]+)|(.*)$')
    local until_ = tonumber(all[i + 1])
    if id and until_ > now then
      rests[id] = rests[id] or {}
      rests[id][model] = until_
    end
  end
  for _, id in ipairs(redis.call('ZRANGE', schedule, 0, -1)) do
    local cool = tonumber(redis.call('HGET', keys, 'cool:' .. id) or '0')
    local quota = tonumber(redis.call('HGET', keys, 'quota:' .. id) or '0')
    table.insert(out, id)
    if cool > now then table.insert(out, fmt(cool)) else table.insert(out, '') end
    table.insert(out, redis.call('HGET', keys, 'rej:' .. id) or '0')
    if quota > now then table.insert(out, fmt(quota)) else table.insert(out, '') end
    if rests[id] then table.insert(out, cjson.encode(rests[id])) else table.insert(out, '') end
  end
  return out

elseif op == 'coolpool' then
  -- ARGV[3] expected version, ARGV[4] seconds, ARGV[5] reason, ARGV[6] minimum, ARGV[7] maximum cooldown.
  -- A shorter cooling never shortens a longer one already set.
  if needs_reseed(ARGV[3]) then return {'reseed'} end
  local seconds = math.min(math.max(tonumber(ARGV[4]), tonumber(ARGV[6])), tonumber(ARGV[7]))
  local untill = now + seconds
  local current = tonumber(redis.call('HGET', meta, 'pcool') or '0')
  if current >= untill and current > now then
    return {'cooling', fmt(current), redis.call('HGET', meta, 'preason') or ''}
  end
  redis.call('HSET', meta, 'pcool', fmt(untill), 'preason', ARGV[5])
  return {'cooling', fmt(untill), ARGV[5]}

elseif op == 'poolcool' then
  local current = tonumber(redis.call('HGET', meta, 'pcool') or '0')
  if current > now then return {'cooling', fmt(current), redis.call('HGET', meta, 'preason') or ''} end
  return {'none'}

elseif op == 'drain' then
  local all = redis.call('HGETALL', usage)
  redis.call('DEL', usage)
  return all
end

return redis.error_reply('unknown operation ' .. tostring(op))
