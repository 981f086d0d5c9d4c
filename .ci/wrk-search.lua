-- wrk script: searches of the products API with random terms, so that few
-- concurrent requests are identical. The terms fit the peers' seed
-- (seed.py: "Product 000123", "category 17", a fixed sentence): a product
-- number (one hit), a category (about N/50 hits, a full count), and two
-- words (AND) of which one is a random number, on random pages 1-3.
--   N=10000 wrk -c32 -t2 -d15s -s .ci/wrk-search.lua -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080
local n = tonumber(os.getenv("N") or "10000")
local words = { "plain", "shop", "description", "seeded", "characters", "hundred" }

request = function()
  local q
  local kind = math.random(1, 3)
  if kind == 1 then
    q = string.format("%06d", math.random(1, n))
  elseif kind == 2 then
    q = string.format("category+%d", math.random(0, 49))
  else
    q = string.format("%s+%d", words[math.random(1, #words)], math.random(1, n))
  end
  local path = string.format("/api/v1/products?q=%s&page=%d&page_size=20", q, math.random(1, 3))
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
