-- One call publishes one event to many user rooms: KEYS are each room's stream and channel in
-- pairs, ARGV the window, the event, its arguments (sent once), then each room's name; it returns
-- the offset for one room, else the count (10,000 offsets nobody reads cost the client ~40 ms
-- to parse). Trim with XDEL rather than MAXLEN/MINID: only XDEL advances the
-- stream's max-deleted-entry-id, which is how `history` knows whether the window still reaches
-- back.
local max_events, event, args = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local body = string.sub(args, 1, -2) .. ',{"offset":"'
local t = redis.call('TIME')
local min_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[4])
local range_end = '(' .. string.format('%d', min_ms) .. '-0'
local ids = {}
for i = 1, #KEYS / 2 do
  local stream = KEYS[2 * i - 1]
  local id = redis.call('XADD', stream, '*', 'e', event, 'a', args)
  local doomed = {}
  local excess = redis.call('XLEN', stream) - max_events
  if excess > 0 then
    for _, e in ipairs(redis.call('XRANGE', stream, '-', '+', 'COUNT', excess)) do
      doomed[#doomed + 1] = e[1]
    end
  end
  if min_ms > 0 then
    for _, e in ipairs(redis.call('XRANGE', stream, '-', range_end, 'COUNT', 1000)) do
      doomed[#doomed + 1] = e[1]
    end
  end
  if #doomed > 0 then redis.call('XDEL', stream, unpack(doomed)) end
  redis.call('PEXPIRE', stream, ARGV[4])
  redis.call('PUBLISH', KEYS[2 * i],
    ARGV[4 + i] .. '\n' .. event .. '\n' .. id .. '\n' .. body .. id .. '"}]')
  ids[i] = id
end
if #ids == 1 then return ids[1] end
return #ids
