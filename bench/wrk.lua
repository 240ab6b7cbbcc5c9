-- wrk script for `npm run bench` (bench/run.mjs). Configuration comes from the
-- environment so that no token appears in a process argument list:
--   BENCH_METHOD     GET or POST
--   BENCH_PATH       request path (with query string)
--   BENCH_BODY_FILE  file holding the request body (POST)
--   BENCH_TOKEN      bearer token (optional)
--   BENCH_MODE       "static" (same request every time) or "create" (POST /v1/keys
--                    with a unique name per request; BENCH_PREFIX names the run)
-- done() prints one line: BENCH_RESULT {json} with requests, duration, errors and
-- latency percentiles in microseconds.

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local token = os.getenv("BENCH_TOKEN")
local mode = os.getenv("BENCH_MODE") or "static"
local prefix = os.getenv("BENCH_PREFIX") or "bench"

local body = nil
local bodyFile = os.getenv("BENCH_BODY_FILE")
if bodyFile and bodyFile ~= "" then
  local f = assert(io.open(bodyFile, "rb"))
  body = f:read("*a")
  f:close()
end

wrk.method = method
wrk.path = path
if body or mode == "create" then wrk.headers["Content-Type"] = "application/json" end
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
if body then wrk.body = body end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local environments = { "prod", "staging", "dev", "test" }
local static = nil

function request()
  if mode == "create" then
    counter = counter + 1
    local n = counter
    local name = string.format("%s-t%d-%d", prefix, tid, n)
    local b = string.format(
      '{"name":"%s","algorithm":"aes-256-gcm","owner":"team-%03d","environment":"%s","tags":{"app":"app-%02d"}}',
      name, n % 100, environments[(n % 4) + 1], n % 10)
    return wrk.format("POST", "/v1/keys", nil, b)
  end
  if static == nil then static = wrk.format() end
  return static
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"durationUs":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
