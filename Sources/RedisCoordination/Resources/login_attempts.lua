-- Login attempts per client (address and user name) and per user name, shared by every node; the same decision
-- as LoginThrottlePolicy.admission and LoginAttemptRecord in Swift. Check and count are one step, so concurrent
-- guesses cannot all pass one check.
--
-- KEYS[1] the client's hash, KEYS[2] the user name's (attempts, last, locked), under one hash tag (one Cluster slot).
-- ARGV[1] operation (admit|reset), ARGV[2] clock override in seconds ('' in production: Redis TIME),
-- ARGV[3] memory seconds, ARGV[4] maximum lock seconds, ARGV[5] free attempts per client, ARGV[6] per user name.
-- Replies: {'client', wait} refused uncounted; {'user', wait} counted, to be slowed; {'ok'} counted.

local op = ARGV[1]
if op == 'reset' then
  redis.call('DEL', unpack(KEYS))
  return {'ok'}
end
if op ~= 'admit' then return redis.error_reply('unknown operation ' .. tostring(op)) end

local now = clock_now()  -- ScriptResource.prelude: ARGV[2] when given, else Redis TIME
local memory, maximum = tonumber(ARGV[3]), tonumber(ARGV[4])

local function wait(key)
  return tonumber(redis.call('HGET', key, 'locked') or '0') - now
end

local clientWait = wait(KEYS[1])
if clientWait > 0 then return {'client', string.format('%.6f', clientWait)} end
local userWait = wait(KEYS[2])

for i, key in ipairs(KEYS) do
  local stored = redis.call('HMGET', key, 'attempts', 'last')
  local attempts, last = tonumber(stored[1] or '0'), tonumber(stored[2] or '0')
  if now - last >= memory then attempts = 0 end
  attempts = attempts + 1
  local free = tonumber(ARGV[4 + i])
  redis.call('HSET', key, 'attempts', attempts, 'last', string.format('%.6f', now))
  if attempts >= free then
    redis.call('HSET', key, 'locked', string.format('%.6f', now + math.min(maximum, 2 ^ (attempts - free))))
  end
  redis.call('EXPIRE', key, math.ceil(memory + maximum))
end
if userWait > 0 then return {'user', string.format('%.6f', userWait)} end
return {'ok'}
