-- wrk script: list pages of the products API at random, so that few
-- concurrent requests are identical (the opposite of the peers' list
-- scenarios, which ask for one page over and over).
--   PAGES=500 wrk -c32 -t2 -d15s -s .ci/wrk-pages.lua -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080
local pages = tonumber(os.getenv("PAGES") or "500")

request = function()
  local path = string.format("/api/v1/products?page=%d&page_size=20", math.random(1, pages))
  return wrk.format("GET", path)
end

init = function(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

done = function(summary, latency, requests)
  io.write(string.format("{\"requests\":%d,\"rps\":%.1f,\"lat_p50_ms\":%.2f,\"lat_p99_ms\":%.2f,\"errors\":%d,\"non2xx\":%d}\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
