-- wrk script: the same page of products as GET /api/v1/products?page=1,
-- asked of the GraphQL endpoint (POST, or GET with GRAPHQL_GET=1), every
-- field REST sends. Used by .ci/bench-graphql; prints one JSON line.
local query = "{ products(page: 1) { items { id name description price stock version createdAt updatedAt } " ..
  "total totalIsEstimate page pageSize hasNext } }"

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

if os.getenv("GRAPHQL_GET") == "1" then
  wrk.method = "GET"
  wrk.path = "/api/v1/graphql?query=" .. urlencode(query)
else
  wrk.method = "POST"
  wrk.path = "/api/v1/graphql"
  wrk.body = '{"query":"' .. query .. '"}'
  wrk.headers["Content-Type"] = "application/json"
end

local bad = 0
response = function(status, headers, body)
  if status ~= 200 or body:find('"errors"', 1, true) then bad = bad + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("{\"requests\":%d,\"rps\":%.1f,\"lat_p50_ms\":%.2f,\"lat_p99_ms\":%.2f,\"errors\":%d}\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
