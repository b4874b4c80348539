package watch

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/go-redis/v9"
)

// script is a Lua script run by its SHA-1 (EVALSHA). Not redis.Script: its
// Load through a pipeline overwrites the shared hash before the pipeline runs.
type script struct{ src, hash string }

func newScript(src string) script {
	h := sha1.Sum([]byte(src))
	return script{src: src, hash: hex.EncodeToString(h[:])}
}

func (sc script) evalSha(ctx context.Context, p redis.Pipeliner, keys []string, args ...any) *redis.Cmd {
	return p.EvalSha(ctx, sc.hash, keys, args...)
}

// The probe walk shared by every script: for address i of the packed seeds
// (little-endian uint32 pairs a, b), offsets x₀ = a, y₀ = b, x ← x+y, y ← y+j
// (mod m) — Layout.Offsets in Go. Lua numbers are doubles: exact below 2^53,
// and offsets < 2^32 print as plain integers.
const luaWalk = `
local function walk(seeds, i, m, k, f)
  local x, y = struct.unpack('<I4I4', seeds, 1 + 8 * i)
  for j = 1, k do
    if f(x) == false then return false end
    x = (x + y) % m
    y = (y + j) % m
  end
  return true
end
-- setbits sets the k bits of address i (one BITFIELD SET per bit measured
-- no faster: the cost of a fill is Redis writing its AOF).
local function setbits(key, seeds, i, m, k)
  walk(seeds, i, m, k, function(x) redis.call('SETBIT', key, x, 1) end)
end
`

// matchScript: KEYS params, bloom; ARGV layout, m, k, seeds. Returns {0,
// indexes of bloom hits...}, or {1} when Redis has no layout (flushed: no
// matches until the ledger rebuilds), or the error "LAYOUT <layout in Redis>".
// A non-member stops at its first zero bit (about 2 GETBITs instead of k).
var matchScript = newScript(luaWalk + `
local cur = redis.call('HGET', KEYS[1], 'layout')
if not cur then return {1} end
if cur ~= ARGV[1] then return redis.error_reply('LAYOUT ' .. cur) end
local m, k, seeds, bloom = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], KEYS[2]
local out = {0}
local function probe(x) return redis.call('GETBIT', bloom, x) == 1 end
for i = 0, #seeds / 8 - 1 do
  if walk(seeds, i, m, k, probe) then out[#out + 1] = i end
end
return out`)

// addScript: KEYS params, bloom, addrs; ARGV layout, m, k, seeds, addresses...
// Checks the layout (sets it when Redis has none), sets the k bits of every
// address and adds them to the exact set — and, while a rebuild with the same
// layout is running, to its temporary keys too, so an Add racing a Rebuild is
// not lost when the rebuild's keys replace the live ones. Returns SCARD.
var addScript = newScript(luaWalk + `
local cur = redis.call('HGET', KEYS[1], 'layout')
if not cur then
  redis.call('HSET', KEYS[1], 'layout', ARGV[1], 'm', ARGV[2], 'k', ARGV[3])
elseif cur ~= ARGV[1] then
  return redis.error_reply('LAYOUT ' .. cur)
end
local targets = {{KEYS[2], KEYS[3]}}
local token = redis.call('HGET', KEYS[1], 'rebuild')
if token then
  local tb, ts = KEYS[2] .. ':tmp:' .. token, KEYS[3] .. ':tmp:' .. token
  if redis.call('EXISTS', tb) == 0 then
    redis.call('HDEL', KEYS[1], 'rebuild', 'rebuild_layout')
  elseif redis.call('HGET', KEYS[1], 'rebuild_layout') ~= ARGV[1] then
    return redis.error_reply('REBUILDING ' .. redis.call('HGET', KEYS[1], 'rebuild_layout'))
  else
    targets[2] = {tb, ts}
  end
end
local m, k, seeds = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
for _, t in ipairs(targets) do
  for i = 0, #seeds / 8 - 1 do setbits(t[1], seeds, i, m, k) end
  redis.call('SADD', t[2], unpack(ARGV, 5))
end
return redis.call('SCARD', KEYS[3])`)

// fillScript: KEYS bloom, addrs (a rebuild's temporary keys); ARGV m, k,
// seeds, addresses... Sets bits and adds, no checks.
var fillScript = newScript(luaWalk + `
local m, k, seeds, bloom = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], KEYS[1]
for i = 0, #seeds / 8 - 1 do setbits(bloom, seeds, i, m, k) end
redis.call('SADD', KEYS[2], unpack(ARGV, 4))
return 0`)

// beginScript: KEYS params, bloom, addrs; ARGV token, layout, m, ttl_ms.
// Refuses while another rebuild is alive; else allocates the temporary bitmap
// (m bits, zero) with a TTL and records the rebuild in params.
var beginScript = newScript(`
local token = redis.call('HGET', KEYS[1], 'rebuild')
if token and redis.call('EXISTS', KEYS[2] .. ':tmp:' .. token) == 1 then
  return redis.error_reply('BUSY ' .. token)
end
local tb = KEYS[2] .. ':tmp:' .. ARGV[1]
redis.call('DEL', tb, KEYS[3] .. ':tmp:' .. ARGV[1])
redis.call('SETBIT', tb, tonumber(ARGV[3]) - 1, 0)
redis.call('PEXPIRE', tb, ARGV[4])
redis.call('HSET', KEYS[1], 'rebuild', ARGV[1], 'rebuild_layout', ARGV[2])
return 0`)

// commitScript: KEYS params, bloom, addrs, sentinel; ARGV token, layout, unix
// time, then field/value pairs for params. Atomically (a script is a
// transaction, and unlike MULTI/EXEC it can check first that the rebuild is
// still ours) renames the temporary keys over the live ones, clears their
// TTL, sets the layout, and writes the sentinel (build = token), so the
// sentinel exists exactly when a complete set does. Returns SCARD.
var commitScript = newScript(`
if redis.call('HGET', KEYS[1], 'rebuild') ~= ARGV[1] then
  return redis.error_reply('LOST the rebuild marker is gone (Redis flushed, or another rebuild took over)')
end
local tb, ts = KEYS[2] .. ':tmp:' .. ARGV[1], KEYS[3] .. ':tmp:' .. ARGV[1]
if redis.call('EXISTS', tb) == 0 then
  return redis.error_reply('LOST the temporary bitmap expired or was deleted')
end
redis.call('RENAME', tb, KEYS[2])
redis.call('PERSIST', KEYS[2])
if redis.call('EXISTS', ts) == 1 then
  redis.call('RENAME', ts, KEYS[3])
  redis.call('PERSIST', KEYS[3])
else
  redis.call('DEL', KEYS[3])
end
redis.call('HDEL', KEYS[1], 'rebuild', 'rebuild_layout')
redis.call('HSET', KEYS[1], 'layout', ARGV[2], unpack(ARGV, 4))
local n = redis.call('SCARD', KEYS[3])
redis.call('HSET', KEYS[4], 'build', ARGV[1], 'addresses', n, 'at', ARGV[3])
return n`)

// repairScript: KEYS sentinel; ARGV height. Asks the set's guard to repair
// it from height on, keeping the lowest height asked for.
var repairScript = newScript(`
local cur = redis.call('HGET', KEYS[1], 'repair_from')
if not cur or tonumber(ARGV[1]) < tonumber(cur) then
  redis.call('HSET', KEYS[1], 'repair_from', ARGV[1])
end
return 0`)

// repairedScript: KEYS sentinel; ARGV height. Clears the repair request the
// guard served, unless a lower one came in meanwhile.
var repairedScript = newScript(`
if redis.call('HGET', KEYS[1], 'repair_from') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'repair_from')
end
return 0`)

// abortScript: KEYS params, bloom, addrs; ARGV token. Drops a failed rebuild.
var abortScript = newScript(`
if redis.call('HGET', KEYS[1], 'rebuild') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'rebuild', 'rebuild_layout')
end
redis.call('DEL', KEYS[2] .. ':tmp:' .. ARGV[1], KEYS[3] .. ':tmp:' .. ARGV[1])
return 0`)

var allScripts = []script{matchScript, addScript, fillScript, beginScript, commitScript, abortScript, repairScript, repairedScript}
