"""The Lua scripts of the Redis-shared limits (each runs atomically on the server).

``ACQUIRE`` is the one script per acquire: a GCRA bucket on the server's clock
(``TIME``) where each caller reserves its send time, the shared pause, the
adopted limit under the caller's ceiling, the drain on ``remaining: 0`` and the
optional credit charge. ``LEDGER`` charges, refunds, reads and flags one
account's ledger hash. Numbers cross as strings (Redis truncates Lua floats).

The ledger hash (``spent``, ``exhausted``, ``cycle_start``, ``cycle_end``,
``billing_day``) follows the billing cycle on the server's clock too: the script
computes the cycle holding ``TIME`` from the billing day (00:00 UTC), starts a
new count when that cycle is later than the stored one (never going back to an
earlier one) and sets the expiry from the cycle's end. A caller whose billing day
differs from the stored one is refused (status ``billing_day``).

Both are idempotent per call: the last key is an operation key unique to one
call and the last argument its lifetime in seconds. The script stores its result
there; run again with the same key (a retry after a lost reply), it returns the
stored result and changes nothing, so a retry never charges or reserves twice.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ACQUIRE", "LEDGER"]

#: Billing cycles on the server's clock (Unix seconds; civil dates after H. Hinnant).
_CYCLE: Final = """
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end
local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
                          - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end
local function cycle_of(now, day)
  local y, m, d = civil_from_days(math.floor(now / 86400))
  if d < day then
    m = m - 1
    if m == 0 then m = 12; y = y - 1 end
  end
  local start = days_from_civil(y, m, day) * 86400
  m = m + 1
  if m == 13 then m = 1; y = y + 1 end
  return start, days_from_civil(y, m, day) * 86400
end
local function int(x) return string.format('%d', x) end
-- The ledger hash's cycle: a new count at the reset, never back to an earlier
-- cycle. Returns start, end; or nil, nil, the stored day when it differs.
local function ledger_cycle(key, now, day, keep)
  local held = redis.call('HMGET', key, 'cycle_start', 'cycle_end', 'billing_day')
  local held_day = tonumber(held[3])
  if held_day and held_day ~= day then return nil, nil, held_day end
  local start, finish = cycle_of(now, day)
  local held_start = tonumber(held[1])
  if held_start and held_start >= start then return held_start, tonumber(held[2]) end
  redis.call('HSET', key, 'cycle_start', int(start), 'cycle_end', int(finish),
             'billing_day', int(day), 'spent', '0', 'exhausted', '0')
  redis.call('EXPIREAT', key, int(finish + keep))
  return start, finish
end
"""

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
# ledger's monthly, enforce, billing day and seconds kept after the cycle, then
# the operation key's lifetime. Returns status, wait, now, send_at, rate, spent,
# exhausted (the stored billing day for status billing_day), paused, cycle start
# and end.
ACQUIRE: Final = (
    _CYCLE
    + """
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
local cstart, cend = 0, 0
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
    return {'wait', fmt(wait), fmt(now), fmt(send_at), fmt(rate), '-1', '0', tostring(paused),
            '0', '0'}
  end
  local cost = tonumber(ARGV[12])
  if cost > 0 then
    local held_day
    cstart, cend, held_day = ledger_cycle(KEYS[2], now, tonumber(ARGV[15]), tonumber(ARGV[16]))
    if cstart == nil then
      redis.call('HSET', KEYS[1], 'tat', fmt(tat))
      redis.call('EXPIRE', KEYS[1], 3600)
      return {'billing_day', fmt(wait), fmt(now), fmt(send_at), fmt(rate), '-1',
              int(held_day), tostring(paused), '0', '0'}
    end
    spent = tonumber(redis.call('HGET', KEYS[2], 'spent') or '0')
    local exhausted = redis.call('HGET', KEYS[2], 'exhausted') == '1'
    local monthly = tonumber(ARGV[13])
    if ARGV[14] == '1' and (exhausted or (monthly > 0 and spent + cost > monthly)) then
      redis.call('HSET', KEYS[1], 'tat', fmt(tat))
      redis.call('EXPIRE', KEYS[1], 3600)
      return {'budget', fmt(wait), fmt(now), fmt(send_at), fmt(rate), tostring(spent),
              exhausted and '1' or '0', tostring(paused), int(cstart), int(cend)}
    end
    spent = redis.call('HINCRBY', KEYS[2], 'spent', cost)
  end
  tat = math.max(base, send_at) + interval
end
redis.call('HSET', KEYS[1], 'tat', fmt(tat))
redis.call('EXPIRE', KEYS[1], 3600)
return {'ok', fmt(wait), fmt(now), fmt(send_at), fmt(rate), tostring(spent), '0', tostring(paused),
        int(cstart), int(cend)}
end
local result = acquire()
"""
    + _RECORD
)

# KEYS: ledger, operation. ARGV: op, cost, monthly, enforce, billing day,
# seconds kept after the cycle, the operation key's lifetime. Returns status,
# spent, exhausted, cycle start, cycle end, the stored billing day.
LEDGER: Final = (
    _CYCLE
    + _REPLAY
    + """
if replay then return cjson.decode(replay) end
local function ledger()
local t = redis.call('TIME')
local day = tonumber(ARGV[5])
local start, finish, held_day = ledger_cycle(KEYS[1], tonumber(t[1]), day, tonumber(ARGV[6]))
if start == nil then return {'billing_day', '0', '0', '0', '0', int(held_day)} end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local exhausted = redis.call('HGET', KEYS[1], 'exhausted') == '1'
local function out(status)
  return {status, tostring(spent), exhausted and '1' or '0', int(start), int(finish), int(day)}
end
local op = ARGV[1]
local cost = tonumber(ARGV[2])
if op == 'charge' then
  local monthly = tonumber(ARGV[3])
  if ARGV[4] == '1' and (exhausted or (monthly > 0 and spent + cost > monthly)) then
    return out('budget')
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
end
return out('ok')
end
local result = ledger()
"""
    + _RECORD
)
