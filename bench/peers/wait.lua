-- wrk script for the throughput workload: every request runs the bench graph once, on a
-- thread no request used before, created by the run itself:
--   POST /threads/<fresh id>/runs/wait   {"assistant_id": "agent", ..., "if_not_exists": "create"}
-- An id is a random 32-bit prefix, drawn once per wrk thread, and a per-thread counter,
-- written as a UUID.

local body = '{"assistant_id":"agent",'
  .. '"input":{"messages":[{"role":"user","content":"hi"}]},'
  .. '"if_not_exists":"create"}'
local headers = { ["Content-Type"] = "application/json" }
local prefix = nil
local sent = 0

function init(args)
  -- wrk starts each thread in its own Lua state at the same moment: the clock alone would
  -- give them one seed, so the address of a fresh table (distinct per state) is mixed in.
  local address = tonumber(string.match(tostring({}), "0x(%x+)"), 16) or 0
  math.randomseed(os.time() + address % 1000003)
  prefix = string.format("%08x", math.random(0, 0x7fffffff))
end

function request()
  sent = sent + 1
  local thread = string.format("%s-0000-4000-8000-%012x", prefix, sent)
  return wrk.format("POST", "/threads/" .. thread .. "/runs/wait", headers, body)
end
