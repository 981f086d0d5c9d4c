#!/usr/bin/env bash
# The products API on 1,000,000 products (PostgreSQL at DATABASE_URL, a
# database this script may drop and refill): list page 1, a deep page,
# searches and filters, each with wrk (see docs/benchmarks.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${DATABASE_URL:=postgres://postgres@127.0.0.1:5432/tienda_million?sslmode=disable}"
port=${TIENDA_PORT:-23091}
make -C "$root" build >/dev/null
bin=$root/bin/tienda
export DATABASE_URL APP_ENV=production SECRET_KEY=$(openssl rand -hex 32) PORT=$port ACCESS_TOKEN_TTL=3h \
  LOG_LEVEL=warn RATE_LIMIT_READ=off RATE_LIMIT_AUTH=off CACHE_TTL=0
"$bin" migrate up >/dev/null
time "$bin" seed --products 1000000 --documents 0
TIENDA_SUPERUSER_PASSWORD=bench-password-123 "$bin" createsuperuser --username bench --email bench@example.com || true
"$bin" serve > "${TMPDIR:-/tmp}/tienda-million.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 50); do curl -fs --noproxy '*' "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.2; done
token=$(curl -s --noproxy '*' -X POST "http://127.0.0.1:$port/api/v1/auth/token" -H 'Content-Type: application/json' \
  -d '{"username":"bench","password":"bench-password-123"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
for q in "page=1" "page=5000" "q=category+7" "q=Product+00042" "q=lamp" "sort=-price" \
         "min_price=100&max_price=200&in_stock=true" "q=category+7&sort=-price&in_stock=true"; do
  echo "== $q"
  curl -s --noproxy '*' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/products?$q&page_size=20" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("total", d["total"], "estimate", d.get("total_is_estimate", False))'
  wrk -t2 -c8 -d8s --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/products?$q&page_size=20" |
    grep -E "Requests/sec|50%|99%"
done
