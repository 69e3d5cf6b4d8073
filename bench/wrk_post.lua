-- wrk script for bench/faq_throughput.py: POST rotating JSON bodies with a bearer key and
-- print one machine-readable JSON line from done().
--
-- Usage: wrk -t2 -c32 -d15s -s bench/wrk_post.lua http://HOST:PORT/v1/chat-messages \
--            -- BODIES_FILE API_KEY
-- BODIES_FILE holds one compact JSON body per line.

local thread_count = 0

-- Runs in the main Lua state once per thread, before the threads start.
function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

local bodies = {}
local cursor = 0

-- Runs in each thread's Lua state.
function init(args)
  local path = args[1]
  local api_key = args[2]
  if path == nil or api_key == nil then
    error("usage: -- BODIES_FILE API_KEY")
  end
  for line in io.lines(path) do
    if #line > 0 then
      bodies[#bodies + 1] = line
    end
  end
  if #bodies == 0 then
    error("no bodies in " .. path)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. api_key
  -- Spread the threads over the rotation so they do not send the same bodies in lockstep.
  local index = tonumber(thread_index) or 0
  cursor = (index * 7919) % #bodies
end

function request()
  cursor = cursor % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[cursor])
end

-- Runs in the main Lua state after all threads stopped.  Latencies are in microseconds.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,'
      .. '"connect_errors":%.0f,"read_errors":%.0f,"write_errors":%.0f,'
      .. '"status_errors":%.0f,"timeouts":%.0f,'
      .. '"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"max_us":%.0f,"mean_us":%.3f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
