-- POST /wallet/create/<currency> with an extId per request (new wallets:
-- the write path), or the same extId every time (REPEAT=1: the read path).
-- KEY: the API key; PREFIX keeps runs apart.
local key = os.getenv("KEY")
local prefix = os.getenv("PREFIX") or tostring(os.time())
local repeat_one = os.getenv("REPEAT") == "1"
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  counter = 0
  errors = 0
end

function request()
  counter = counter + 1
  local ext = prefix .. "-" .. tid .. "-" .. counter
  if repeat_one then ext = prefix .. "-same" end
  return wrk.format("POST", nil, {["Authorization"] = key, ["Content-Type"] = "application/json"},
    '{"extId":"' .. ext .. '"}')
end

function response(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
    if errors <= 3 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
  end
end
