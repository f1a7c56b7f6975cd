-- wrk script for bench/warm_invoke.sh: the same request hotrod_loadgen sends (method, Basic auth,
-- JSON body from the environment), and one JSON line at the end so the script need not scrape
-- wrk's human output.
wrk.method = os.getenv("WRK_METHOD") or "GET"
local auth = os.getenv("WRK_AUTH_B64")
if auth and auth ~= "" then wrk.headers["Authorization"] = "Basic " .. auth end
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"count":%d,"errors":%d,"elapsed_s":%.6f,"rps":%.1f,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, e.status + e.connect + e.read + e.write + e.timeout, seconds,
    summary.requests / seconds, latency:percentile(50), latency:percentile(99), latency.max))
end
