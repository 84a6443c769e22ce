"""The Lua scripts of the Redis-shared limits (each runs atomically on the server).

``ACQUIRE`` is the one script per acquire: a GCRA bucket on the server's clock
(``TIME``) where each caller reserves its send time, the shared pause, the
adopted limit under the caller's ceiling, the drain on ``remaining: 0`` and the
optional credit charge. ``LEDGER`` charges, refunds, reads and flags one
account's ledger hash. Numbers cross as strings (Redis truncates Lua floats).

Both are idempotent per call: the last key is an operation key unique to one
call and the last argument its lifetime in seconds. The script stores its result
there; run again with the same key (a retry after a lost reply), it returns the
stored result and changes nothing, so a retry never charges or reserves twice.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ACQUIRE", "LEDGER"]

#: The replay guard: the stored result of this call, if it ran already.
_REPLAY: Final = """
local op_key = KEYS[#KEYS]
local replay = redis.call('GET', op_key)
"""

#: Stores ``result`` under the operation key and returns it.
_RECORD: Final = """
redis.call('SET', op_key, cjson.encode(result), 'EX', tonumber(ARGV[#ARGV]))
return result
"""

# KEYS: bucket, ledger, operation. ARGV: see RedisRateLimiter._args, then the
# ledger's monthly, enforce and expire_at, then the operation key's lifetime.
ACQUIRE: Final = (
    """
local function fmt(x) return string.format('%.6f', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""
    + _REPLAY
    + """
if replay then
  local stored = cjson.decode(replay)
  if stored[1] == 'ok' then  -- the slot stands; the wait runs from now
    stored[2] = fmt(math.max(tonumber(stored[4]) - now, 0))
    stored[3] = fmt(now)
  end
  return stored
end
local function acquire()
local ceiling = tonumber(ARGV[2])
local rate = tonumber(redis.call('HGET', KEYS[1], 'rate') or ARGV[1])
local observed = tonumber(ARGV[8])
if observed > 0 then
  rate = math.min(observed, ceiling)
  redis.call('HSET', KEYS[1], 'rate', fmt(rate))
end
if rate > ceiling then rate = ceiling end
local margin = tonumber(ARGV[3])
local interval = (60 + margin) / rate
local tolerance = (tonumber(ARGV[4]) - 1) * interval
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or '0')
local pause_until = tonumber(redis.call('HGET', KEYS[1], 'pause_until') or '0')
local pause = tonumber(ARGV[10])
if pause > 0 then
  pause_until = math.max(pause_until, now + math.min(pause, tonumber(ARGV[11])))
  redis.call('HSET', KEYS[1], 'pause_until', fmt(pause_until))
end
if ARGV[9] == '1' or pause > 0 then
  tat = math.max(tat, now + interval + tolerance)
end
local wait = 0
local send_at = now
local paused = 0
local spent = -1
if ARGV[5] == '1' then
  local base = math.max(tat, now)
  send_at = math.max(now, base - tolerance, pause_until)
  wait = send_at - now
  if pause_until > now and pause_until >= send_at then paused = 1 end
  local max_pause = tonumber(ARGV[7])
  local max_pace = tonumber(ARGV[6])
  if (paused == 1 and max_pause >= 0 and wait > max_pause)
      or (max_pace >= 0 and wait > max_pace) then
    redis.call('HSET', KEYS[1], 'tat', fmt(tat))
    redis.call('EXPIRE', KEYS[1], 3600)
    return {'wait', fmt(wait), fmt(now), fmt(send_at), fmt(rate), '-1', '0', tostring(paused)}
  end
  local cost = tonumber(ARGV[12])
  if cost > 0 then
    spent = tonumber(redis.call('HGET', KEYS[2], 'spent') or '0')
    local exhausted = redis.call('HGET', KEYS[2], 'exhausted') == '1'
    local monthly = tonumber(ARGV[13])
    if ARGV[14] == '1' and (exhausted or (monthly > 0 and spent + cost > monthly)) then
      redis.call('HSET', KEYS[1], 'tat', fmt(tat))
      redis.call('EXPIRE', KEYS[1], 3600)
      return {'budget', fmt(wait), fmt(now), fmt(send_at), fmt(rate), tostring(spent),
              exhausted and '1' or '0', tostring(paused)}
    end
    spent = redis.call('HINCRBY', KEYS[2], 'spent', cost)
    redis.call('EXPIREAT', KEYS[2], ARGV[15])
  end
  tat = math.max(base, send_at) + interval
end
redis.call('HSET', KEYS[1], 'tat', fmt(tat))
redis.call('EXPIRE', KEYS[1], 3600)
return {'ok', fmt(wait), fmt(now), fmt(send_at), fmt(rate), tostring(spent), '0', tostring(paused)}
end
local result = acquire()
"""
    + _RECORD
)

# KEYS: ledger, operation. ARGV: op, cost, monthly, enforce, expire_at, the
# operation key's lifetime.
LEDGER: Final = (
    _REPLAY
    + """
if replay then return cjson.decode(replay) end
local function ledger()
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local exhausted = redis.call('HGET', KEYS[1], 'exhausted') == '1'
local op = ARGV[1]
local cost = tonumber(ARGV[2])
if op == 'charge' then
  local monthly = tonumber(ARGV[3])
  if ARGV[4] == '1' and (exhausted or (monthly > 0 and spent + cost > monthly)) then
    return {'budget', tostring(spent), exhausted and '1' or '0'}
  end
  spent = redis.call('HINCRBY', KEYS[1], 'spent', cost)
elseif op == 'refund' then
  spent = math.max(spent - cost, 0)
  redis.call('HSET', KEYS[1], 'spent', spent)
elseif op == 'exhaust' then
  exhausted = true
  redis.call('HSET', KEYS[1], 'exhausted', '1')
elseif op == 'clear' then
  exhausted = false
  redis.call('HSET', KEYS[1], 'exhausted', '0')
else
  return {'ok', tostring(spent), exhausted and '1' or '0'}
end
redis.call('EXPIREAT', KEYS[1], ARGV[5])
return {'ok', tostring(spent), exhausted and '1' or '0'}
end
local result = ledger()
"""
    + _RECORD
)
