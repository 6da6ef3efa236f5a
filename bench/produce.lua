-- wrk script for the produce benchmark (bench/run.sh).
--
--   BENCH_BODY=raw BENCH_SIZE=1024      one record of SIZE bytes, text/plain
--   BENCH_BODY=envelope BENCH_RECORDS=100 BENCH_SIZE=100
--                                       a REST Proxy v2 JSON envelope of
--                                       RECORDS records of SIZE-byte values
--   BENCH_BODY=orders BENCH_RECORDS=100 a JSON envelope of RECORDS orders
--                                       (objects of about 120 bytes that
--                                       match bench/order.schema.json)
--   BENCH_BODY=get                      a GET without a body (the
--                                       discovery cells); BENCH_AUTH, if
--                                       set, is sent as a bearer token
--
-- done() prints one machine-readable line; wrk's errors.status counts the
-- answers that were not 2xx or 3xx.

local kind = os.getenv("BENCH_BODY") or "raw"
local size = tonumber(os.getenv("BENCH_SIZE") or "100")
local nrec = tonumber(os.getenv("BENCH_RECORDS") or "100")

wrk.method = "POST"

if kind == "get" then
    wrk.method = "GET"
    wrk.body = nil
    local token = os.getenv("BENCH_AUTH")
    if token and token ~= "" then
        wrk.headers["Authorization"] = "Bearer " .. token
    end
elseif kind == "envelope" then
    -- a JSON string value of SIZE bytes, quotes included
    local value = '"' .. string.rep("x", size - 2) .. '"'
    local records = {}
    for i = 1, nrec do
        records[i] = '{"value":' .. value .. '}'
    end
    wrk.body = '{"records":[' .. table.concat(records, ",") .. ']}'
    wrk.headers["Content-Type"] = "application/vnd.kafka.json.v2+json"
elseif kind == "orders" then
    local records = {}
    for i = 1, nrec do
        records[i] = string.format('{"value":{"id":"ord-%06d",' ..
            '"customer":"customer-%d","amount":%d.5,"currency":"EUR",' ..
            '"quantity":%d,"shipping":{"country":"FR","city":"Paris"}}}',
            i, i % 97, i, i % 7 + 1)
    end
    wrk.body = '{"records":[' .. table.concat(records, ",") .. ']}'
    wrk.headers["Content-Type"] = "application/vnd.kafka.json.v2+json"
else
    wrk.body = string.rep("x", size)
    wrk.headers["Content-Type"] = "text/plain"
end

-- BENCH_DELAY_MS: each connection waits that long before each request,
-- for a paced load below the server's capacity (the capture cells' p99)
local pace = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pace > 0 then
    delay = function() return pace end
end

done = function(summary, latency, requests)
    local secs = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format(
        "requests=%d secs=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f " ..
        "max_ms=%.3f bad_status=%d socket_errors=%d\n",
        summary.requests, secs, summary.requests / secs,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        latency.max / 1000,
        e.status, e.connect + e.read + e.write + e.timeout))
end
