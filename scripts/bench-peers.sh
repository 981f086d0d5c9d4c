#!/usr/bin/env bash
# Products API of Tienda against the Flask and Django REST Framework peers,
# in one run of ../shared/peers (see docs/benchmarks.md). Tienda runs on a
# database of the peers' throwaway PostgreSQL cluster, in production mode,
# with the rate limits off (they would refuse the load).
#   scripts/bench-peers.sh                 peers + Tienda, response cache off
#   CACHE_TTL=60s PEERS= scripts/bench-peers.sh    Tienda alone, production default cache
# Results are appended to $RESULTS (default /tmp/tienda-peers.jsonl).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${PEERS_DIR:-$root/../shared/peers}
make -C "$root" build >/dev/null
cd "$peers"
source ./env.sh
./pg.sh status >/dev/null 2>&1 || ./pg.sh start
port=${TIENDA_PORT:-23090}
db="postgres://postgres@127.0.0.1:$PGPORT/tienda_bench?sslmode=disable"
psql -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "DROP DATABASE IF EXISTS tienda_bench" -c "CREATE DATABASE tienda_bench"
export APP_ENV=production SECRET_KEY=$(openssl rand -hex 32) PORT=$port ACCESS_TOKEN_TTL=3h LOG_LEVEL=info \
  DB_MAX_OPEN_CONNS=20 RATE_LIMIT_READ=off RATE_LIMIT_WRITE=off RATE_LIMIT_AUTH=off CACHE_TTL=${CACHE_TTL:-0}
bin=$root/bin/tienda
DATABASE_URL=$db "$bin" migrate up >/dev/null
DATABASE_URL=$db TIENDA_SUPERUSER_PASSWORD=bench-password-123 "$bin" createsuperuser --username bench --email bench@example.com
DATABASE_URL=$db "$bin" serve > "${TMPDIR:-/tmp}/tienda-bench.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 50); do curl -fs --noproxy '*' "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.2; done
token=$(curl -s --noproxy '*' -X POST "http://127.0.0.1:$port/api/v1/auth/token" -H 'Content-Type: application/json' \
  -d '{"username":"bench","password":"bench-password-123"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
AUTH_HEADER="Bearer $token" PRODUCT_URL=http://127.0.0.1:$port PRODUCT_PID=$pid \
PRODUCT_DATABASE_URL="postgresql://postgres@127.0.0.1:$PGPORT/tienda_bench" PRODUCT_NAME=${PRODUCT_NAME:-tienda} \
RESULTS=${RESULTS:-/tmp/tienda-peers.jsonl} BASELINE=${BASELINE:-0} VARIANTS=${VARIANTS:-sync} ./run-all.sh
