-- A client key's limits, one atomic step per call, the same semantics as InMemoryClientQuota (one behaviour suite
-- runs against both). Data layout version 1 ("cq1").
--
-- KEYS (one hash tag per client key, `{ck:<id>}`: one Redis Cluster slot, not necessarily the pools'):
--   1 rlog  ZSET  rpm: member = lease (the request id), score = admission time; entries 60 s old are pruned
--   2 tlog  ZSET  tpm: member = lease, score = admission time
--   3 tamt  HASH  tpm: lease -> its tokens (reserved, then settled); '#sum' the sum over tlog
--   4 conc  ZSET  concurrency: member = lease, score = when it expires unless renewed
--   5 cal   HASH  day, dreq, dtok (the UTC day's requests and tokens); month, mreq, mtok (the UTC month's)
-- ARGV[1] operation (admit|settle|renew|states), ARGV[2] clock override ('' in production: Redis TIME).
-- admit, renew, states: ARGV[3..9] the limits (rpm, tpm, max_concurrent, daily_requests, monthly_requests,
-- daily_tokens, monthly_tokens; 0 = none), ARGV[10] lease, ARGV[11] reserved tokens, ARGV[12] admission time (renew),
-- ARGV[13] unused, ARGV[14] lease seconds.
-- Give-back groups of 6 (`settle` from ARGV[3]; `admit` from ARGV[15]: this node's settles of the key queued since its
-- last call, applied before the admission so what they free counts for it): op (settle|release), lease, reserved
-- tokens, admission time, used tokens (settle), the ticket's limits as 7 characters '1'/'0' in the order above (its
-- own: the operator may have edited the key since).
-- admit/states reply: {tag ('ok' admitted, 'no' refused, 'st' states), now, refused limit index ('' if none),
-- retry-after seconds ('' if none), then per limit 1..7: used, reset seconds}. settle/renew: 'ok'.

local rlog, tlog, tamt, conc, cal = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local op = ARGV[1]
local now = clock_now()  -- ScriptResource.prelude: ARGV[2] when given, else Redis TIME

local limit = {}
for i = 1, 7 do limit[i] = tonumber(ARGV[2 + i]) or 0 end
local lease = ARGV[10] or ''
local reserved = math.max(tonumber(ARGV[11] or '0') or 0, 0)
local lease_seconds = tonumber(ARGV[14] or '30') or 30

local function fmt(x) return string.format('%.6f', x) end
local function int(x) return string.format('%d', x) end

-- QuotaCalendar: the UTC day, the month index (year * 12 + month - 1), the next midnight and the next month's first.
local function civil(day)
  local z = day + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end

local function days_from(y, m)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5)
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function calendar(t)
  local day = math.floor(t / 86400)
  local y, m = civil(day)
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  return day, y * 12 + m - 1, (day + 1) * 86400, days_from(ny, nm) * 86400
end

-- The calendar counters of the current day and month (zero once the stored ones have passed).
local function counters(day, month)
  local c = redis.call('HMGET', cal, 'day', 'dreq', 'dtok', 'month', 'mreq', 'mtok')
  local dreq, dtok, mreq, mtok = 0, 0, 0, 0
  if tonumber(c[1] or '-1') == day then dreq, dtok = tonumber(c[2] or '0'), tonumber(c[3] or '0') end
  if tonumber(c[4] or '-1') == month then mreq, mtok = tonumber(c[5] or '0'), tonumber(c[6] or '0') end
  return dreq, dtok, mreq, mtok
end

local function oldest(key)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #first == 0 then return nil end
  return tonumber(first[2])
end

-- Settles (the used tokens replace the reservation) or releases (everything the admission took is given back) one
-- ticket; only the windows of its admission time, while they are still the current ones.
local function give_back(group_op, lease_id, held, admitted_at, used, flags)
  local releasing = group_op == 'release'
  local function had(i) return string.byte(flags, i) == 49 end  -- '1'
  local delta = (releasing and 0 or used) - held
  if had(3) then redis.call('ZREM', conc, lease_id) end
  if releasing and had(1) then redis.call('ZREM', rlog, lease_id) end
  if had(2) and redis.call('ZSCORE', tlog, lease_id) then
    local amount = tonumber(redis.call('HGET', tamt, lease_id) or '0')
    if releasing then
      redis.call('ZREM', tlog, lease_id)
      redis.call('HDEL', tamt, lease_id)
      redis.call('HINCRBY', tamt, '#sum', -amount)
    else
      redis.call('HSET', tamt, lease_id, used)
      redis.call('HINCRBY', tamt, '#sum', used - amount)
    end
  end
  if had(4) or had(5) or had(6) or had(7) then
    local day, month = calendar(admitted_at)
    local c = redis.call('HMGET', cal, 'day', 'dreq', 'dtok', 'month', 'mreq', 'mtok')
    if tonumber(c[1] or '-1') == day then
      if releasing and had(4) then redis.call('HSET', cal, 'dreq', math.max(tonumber(c[2] or '0') - 1, 0)) end
      if had(6) then redis.call('HSET', cal, 'dtok', math.max(tonumber(c[3] or '0') + delta, 0)) end
    end
    if tonumber(c[4] or '-1') == month then
      if releasing and had(5) then redis.call('HSET', cal, 'mreq', math.max(tonumber(c[5] or '0') - 1, 0)) end
      if had(7) then redis.call('HSET', cal, 'mtok', math.max(tonumber(c[6] or '0') + delta, 0)) end
    end
  end
end

-- Every give-back group from ARGV[first] on.
local function give_back_groups(first)
  for i = first, #ARGV - 5, 6 do
    give_back(ARGV[i], ARGV[i + 1], math.max(tonumber(ARGV[i + 2]) or 0, 0), tonumber(ARGV[i + 3]) or now,
              math.max(tonumber(ARGV[i + 4]) or 0, 0), ARGV[i + 5])
  end
end

if op == 'admit' or op == 'states' then
  if op == 'admit' then give_back_groups(15) end
  local day, month, next_day, next_month = calendar(now)
  -- Prune the rolling windows and the expired leases.
  if limit[1] > 0 then redis.call('ZREMRANGEBYSCORE', rlog, '-inf', fmt(now - 60)) end
  local tsum = 0
  if limit[2] > 0 then
    local gone = redis.call('ZRANGEBYSCORE', tlog, '-inf', fmt(now - 60))
    if #gone > 0 then
      local amounts = redis.call('HMGET', tamt, unpack(gone))
      local freed = 0
      for i = 1, #gone do freed = freed + (tonumber(amounts[i] or '0') or 0) end
      redis.call('HDEL', tamt, unpack(gone))
      redis.call('ZREMRANGEBYSCORE', tlog, '-inf', fmt(now - 60))
      if freed ~= 0 then redis.call('HINCRBY', tamt, '#sum', -freed) end
    end
    tsum = tonumber(redis.call('HGET', tamt, '#sum') or '0')
  end
  if limit[3] > 0 then redis.call('ZREMRANGEBYSCORE', conc, '-inf', fmt(now)) end
  local dreq, dtok, mreq, mtok = counters(day, month)

  local used = {0, tsum, 0, dreq, mreq, dtok, mtok}
  if limit[1] > 0 then used[1] = redis.call('ZCARD', rlog) end
  if limit[3] > 0 then used[3] = redis.call('ZCARD', conc) end

  local refused, retry = '', ''
  if op == 'admit' then
    for i = 1, 7 do
      if limit[i] > 0 and used[i] >= limit[i] then
        refused = int(i)
        if i == 1 then
          retry = fmt((oldest(rlog) or now) + 60 - now)
        elseif i == 2 then
          -- When enough of the oldest tokens have left the window to bring the rest below the limit.
          local entries = redis.call('ZRANGE', tlog, 0, -1, 'WITHSCORES')
          local sum, wait = tsum, 60
          for j = 1, #entries, 2 do
            sum = sum - (tonumber(redis.call('HGET', tamt, entries[j]) or '0') or 0)
            if sum < limit[2] then wait = tonumber(entries[j + 1]) + 60 - now; break end
          end
          retry = fmt(wait)
        elseif i == 3 then
          retry = fmt(math.min(1, (oldest(conc) or now) - now))
        elseif i == 4 or i == 6 then
          retry = fmt(next_day - now)
        elseif next_month - now <= 86400 then
          retry = fmt(next_month - now)
        end
        break
      end
    end
    if refused == '' then
      if limit[1] > 0 then
        redis.call('ZADD', rlog, fmt(now), lease)
        redis.call('PEXPIRE', rlog, 61000)
        used[1] = used[1] + 1
      end
      if limit[2] > 0 then
        redis.call('ZADD', tlog, fmt(now), lease)
        redis.call('HSET', tamt, lease, reserved)
        redis.call('HINCRBY', tamt, '#sum', reserved)
        redis.call('PEXPIRE', tlog, 61000)
        redis.call('PEXPIRE', tamt, 61000)
        used[2] = used[2] + reserved
      end
      if limit[3] > 0 then
        redis.call('ZADD', conc, fmt(now + lease_seconds), lease)
        redis.call('PEXPIRE', conc, math.ceil((lease_seconds + 1) * 1000))
        used[3] = used[3] + 1
      end
      if limit[4] > 0 or limit[5] > 0 or limit[6] > 0 or limit[7] > 0 then
        if limit[4] > 0 then used[4] = used[4] + 1 end
        if limit[5] > 0 then used[5] = used[5] + 1 end
        if limit[6] > 0 then used[6] = used[6] + reserved end
        if limit[7] > 0 then used[7] = used[7] + reserved end
        redis.call('HSET', cal, 'day', day, 'dreq', used[4], 'dtok', used[6], 'month', month, 'mreq', used[5], 'mtok', used[7])
        redis.call('EXPIRE', cal, math.ceil(next_month - now) + 86400)
      end
    end
  end

  local reply = {op == 'states' and 'st' or (refused == '' and 'ok' or 'no'), fmt(now), refused, retry}
  local resets = {
    oldest(rlog), oldest(tlog), oldest(conc), next_day, next_month, next_day, next_month,
  }
  for i = 1, 7 do
    local reset = 0
    if limit[i] > 0 then
      if i == 1 or i == 2 then
        if resets[i] then reset = resets[i] + 60 - now end
      elseif resets[i] then
        reset = resets[i] - now
      end
    end
    reply[#reply + 1] = int(used[i])
    reply[#reply + 1] = fmt(reset)
  end
  return reply
end

if op == 'renew' then
  local expiry = tonumber(redis.call('ZSCORE', conc, lease) or '0')
  -- A lease that already ended is not revived: its slot may be another request's by now.
  if expiry > now then
    redis.call('ZADD', conc, 'XX', fmt(now + lease_seconds), lease)
    redis.call('PEXPIRE', conc, math.ceil((lease_seconds + 1) * 1000))
  end
  return 'ok'
end

if op == 'settle' then
  give_back_groups(3)
  return 'ok'
end

return redis.error_reply('unknown operation ' .. tostring(op))
