-- Login attempts per subject (client address, user name), shared by every node; the same decision as
-- LoginAttemptRecord in Swift. Check and count are one step, so concurrent guesses cannot all pass one check.
--
-- KEYS: one hash per subject (attempts, last, locked), all under one hash tag (one Redis Cluster slot).
-- ARGV[1] operation (admit|reset), ARGV[2] clock override in seconds ('' in production: Redis TIME),
-- ARGV[3] memory seconds, ARGV[4] maximum lock seconds, ARGV[4 + i] free attempts of KEYS[i].

local op = ARGV[1]
if op == 'reset' then
  redis.call('DEL', unpack(KEYS))
  return {'ok'}
end
if op ~= 'admit' then return redis.error_reply('unknown operation ' .. tostring(op)) end

local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local memory, maximum = tonumber(ARGV[3]), tonumber(ARGV[4])

local wait = 0
for _, key in ipairs(KEYS) do
  local locked = tonumber(redis.call('HGET', key, 'locked') or '0')
  if locked - now > wait then wait = locked - now end
end
if wait > 0 then return {'wait', string.format('%.6f', wait)} end

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
return {'ok'}
