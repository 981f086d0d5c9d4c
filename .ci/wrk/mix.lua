-- wrk script of .ci/bench-mix: every scenario of the products APIs (Tienda,
-- PocketBase, the Flask peer) is a set of weights over the kinds of request
-- below, drawn at random per request. A scenario with no weight set sends the
-- URL given to wrk as it is (admin pages, hello worlds).
--
-- Configuration (environment, set by .ci/bench-mix):
--   STYLE      tienda (also the Flask peer: same paths and JSON) | pocketbase
--   PREFIX     Tienda's collection path (default /api/v1/products)
--   N          seeded rows: ids 1..N, list pages 1..N/PAGE_SIZE
--   PAGE_SIZE  20
--   SKIP_TOTAL 1: PocketBase lists with skipTotal=1 (no count query)
--   WORDS      search words, space-separated, drawn uniformly
--   W_SAME W_PAGE W_SEARCH W_DETAIL W_CREATE W_PATCH
--              integer weights of: list page 1 (the same URL every time),
--              a random list page, a random search word (first page), a
--              random id, a create (POST), a partial update (PATCH of the
--              stock of a random id; Tienda gets If-Match: *)
--   THREADS    wrk's -t (PATCH ids are split between the threads)
--   SEED       random seed (per thread: SEED + thread number)
--   TARGET SCENARIO ROUND RUN_ID TS CONNS: copied into the JSON line
-- Every response's status is checked: non2xx counts statuses outside
-- 200-299 (wrk's own errors.status only counts >= 400), and the first bad
-- status and body of each thread are reported (first_bad).
-- done() prints one JSON line on stdout starting with {.

local function env(k, d)
  local v = os.getenv(k)
  if v == nil or v == "" then return d end
  return v
end

local style     = env("STYLE", "tienda")
local prefix    = env("PREFIX", "/api/v1/products")
local n         = tonumber(env("N", "10000"))
local page_size = tonumber(env("PAGE_SIZE", "20"))
local pages     = math.max(1, math.floor(n / page_size))
local skip      = env("SKIP_TOTAL", "0") == "1"

local kinds = { "same", "page", "search", "detail", "create", "patch" }
local weights, total_w = {}, 0
for _, k in ipairs(kinds) do
  local w = tonumber(env("W_" .. string.upper(k), "0"))
  weights[k] = w
  total_w = total_w + w
end

local words = {}
for w in string.gmatch(env("WORDS", "plain"), "%S+") do table.insert(words, w) end

local function urlencode(s)
  return (string.gsub(s, "[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- Paths per style.
local P = {}
if style == "pocketbase" then
  local base = "/api/collections/products/records"
  local tail = skip and "&skipTotal=1" or ""
  P.same   = function() return base .. "?page=1&perPage=" .. page_size .. tail end
  P.page   = function(p) return base .. "?page=" .. p .. "&perPage=" .. page_size .. tail end
  P.search = function(w)
    return base .. "?page=1&perPage=" .. page_size .. tail .. "&filter=" ..
      urlencode("(name~'" .. w .. "'||description~'" .. w .. "')")
  end
  P.one    = function(id) return base .. string.format("/%015d", id) end
  P.coll   = base
else
  P.same   = function() return prefix .. "?page=1&page_size=" .. page_size end
  P.page   = function(p) return prefix .. "?page=" .. p .. "&page_size=" .. page_size end
  P.search = function(w) return prefix .. "?q=" .. urlencode(w) .. "&page=1&page_size=" .. page_size end
  P.one    = function(id) return prefix .. "/" .. id end
  P.coll   = prefix
end

-- main state: keep the threads to read their counters in done()
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

-- thread state
non2xx = 0
first_bad = ""
counter = 0
sent = { same = 0, page = 0, search = 0, detail = 0, create = 0, patch = 0 }
local get_h, write_h, search_paths

function init(args)
  math.randomseed(tonumber(env("SEED", "42")) + (tid or 0))
  get_h, write_h = {}, { ["Content-Type"] = "application/json" }
  for k, v in pairs(wrk.headers) do get_h[k] = v; if write_h[k] == nil then write_h[k] = v end end
  if style ~= "pocketbase" then write_h["If-Match"] = "*" end
  search_paths = {}
  for i, w in ipairs(words) do search_paths[i] = P.search(w) end
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == "" then
      first_bad = tostring(status) .. " " .. string.sub(tostring(body or ""), 1, 4000)
    end
  end
end

-- PATCH ids: each thread walks its own ids (tid, tid + nthreads, ...) from a
-- random start, so no two requests in flight update the same row (which
-- users of a shop rarely do, and which would measure conflicts, not writes).
local patch_pos
local function next_patch_id()
  local nt = tonumber(env("THREADS", "1"))
  local t = tid or 1
  local slots = math.max(1, math.floor((n - t) / nt) + 1)
  if patch_pos == nil then patch_pos = math.random(slots) - 1 end
  patch_pos = (patch_pos + 1) % slots
  return t + patch_pos * nt
end

local function pick()
  local r = math.random() * total_w
  for _, k in ipairs(kinds) do
    r = r - weights[k]
    if r < 0 and weights[k] > 0 then return k end
  end
  for i = #kinds, 1, -1 do if weights[kinds[i]] > 0 then return kinds[i] end end
end

if total_w > 0 then
  request = function()
    local k = pick()
    sent[k] = sent[k] + 1
    if k == "same" then
      return wrk.format("GET", P.same(), get_h)
    elseif k == "page" then
      return wrk.format("GET", P.page(math.random(pages)), get_h)
    elseif k == "search" then
      return wrk.format("GET", search_paths[math.random(#search_paths)], get_h)
    elseif k == "detail" then
      return wrk.format("GET", P.one(math.random(n)), get_h)
    elseif k == "create" then
      counter = counter + 1
      local body = string.format(
        '{"name":"wrk product %d-%d","description":"created by the benchmark","price":%d.%02d,"stock":%d}',
        tid or 0, counter, counter % 1000, counter % 100, counter % 500)
      return wrk.format("POST", P.coll, write_h, body)
    else -- patch
      counter = counter + 1
      return wrk.format("PATCH", P.one(next_patch_id()), write_h, string.format('{"stock":%d}', counter % 1000))
    end
  end
end

local function jstr(s)
  s = tostring(s)
  s = s:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('[%c]', ' ')
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local bad, firsts, counts = 0, {}, {}
  for _, k in ipairs(kinds) do counts[k] = 0 end
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    local fb = t:get("first_bad")
    if fb ~= nil and fb ~= "" then table.insert(firsts, fb) end
    local s = t:get("sent")
    if s ~= nil then for _, k in ipairs(kinds) do counts[k] = counts[k] + (s[k] or 0) end end
  end
  local mix = {}
  if total_w > 0 then
    for _, k in ipairs(kinds) do
      if weights[k] > 0 then table.insert(mix, '"' .. k .. '":' .. counts[k]) end
    end
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  local ms = function(us) return string.format("%.2f", us / 1000) end
  local fields = {
    '"kind":"http"',
    '"run_id":' .. jstr(env("RUN_ID", "")),
    '"ts":' .. jstr(env("TS", "")),
    '"target":' .. jstr(env("TARGET", "")),
    '"scenario":' .. jstr(env("SCENARIO", "")),
    '"round":' .. env("ROUND", "0"),
    '"n":' .. n,
    '"connections":' .. env("CONNS", "0"),
    '"threads":' .. env("THREADS", "0"),
    '"duration_s":' .. string.format("%.2f", secs),
    '"requests":' .. summary.requests,
    '"rps":' .. string.format("%.1f", summary.requests / secs),
    '"lat_mean_ms":' .. ms(latency.mean),
    '"lat_p50_ms":' .. ms(latency:percentile(50)),
    '"lat_p90_ms":' .. ms(latency:percentile(90)),
    '"lat_p99_ms":' .. ms(latency:percentile(99)),
    '"lat_max_ms":' .. ms(latency.max),
    '"non2xx":' .. bad,
    '"errors":' .. (e.connect + e.read + e.write + e.timeout),
    '"socket_errors":{"connect":' .. e.connect .. ',"read":' .. e.read ..
      ',"write":' .. e.write .. ',"timeout":' .. e.timeout .. '}',
    '"sent":{' .. table.concat(mix, ",") .. '}',
    '"first_bad":' .. jstr(firsts[1] or ""),
    '"bytes_per_s":' .. string.format("%.0f", summary.bytes / secs),
  }
  io.write("{" .. table.concat(fields, ",") .. "}\n")
end
