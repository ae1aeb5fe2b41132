-- Move due delayed jobs to the ready list atomically, so two workers never both promote one.
-- KEYS: the delayed sorted set, the ready list; ARGV: now (epoch seconds), at most this many.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, raw in ipairs(due) do
  redis.call('ZREM', KEYS[1], raw)
  redis.call('LPUSH', KEYS[2], raw)
end
return #due
