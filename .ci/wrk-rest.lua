-- wrk script: GET /api/v1/products?page=1 (the REST side of
-- .ci/bench-graphql); prints one JSON line like wrk-graphql.lua.
wrk.method = "GET"
wrk.path = "/api/v1/products?page=1"

done = function(summary, latency, requests)
  io.write(string.format("{\"requests\":%d,\"rps\":%.1f,\"lat_p50_ms\":%.2f,\"lat_p99_ms\":%.2f,\"errors\":%d}\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
