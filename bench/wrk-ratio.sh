#!/usr/bin/env bash
# Compares callbid with the ceiling server (a fasthttp handler with a fixed
# 600-byte answer) under wrk, alternating short runs so both see the same
# machine. Prints per pair the requests/s and CPU µs per request of each
# server, then the medians. Start both first (see README "Performance"):
#   GOMAXPROCS=1 taskset -c 0 callbid -config configs/bench.yaml &
#   GOMAXPROCS=1 taskset -c 0 callbid-bench ceiling -listen 127.0.0.1:9090 &
# Usage: bench/wrk-ratio.sh BIDDER_PID CEILING_PID [pairs] [seconds]
set -euo pipefail
BID=$1 CEIL=$2 N=${3:-8} D=${4:-6}
BODY=${BODY:-$(dirname "$0")/testdata/wrk/mortgage-banner.json}
LUA=$(mktemp --suffix .lua)
trap 'rm -f "$LUA"' EXIT
cat > "$LUA" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$BODY", "r"); wrk.body = f:read("*a"); f:close()
LUA
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
run() { # pid url -> "req/s cpu-µs-per-request"
  local a b out
  a=$(cpu "$1"); out=$(taskset -c 1 wrk -t1 -c64 -d"${D}s" -s "$LUA" "$2" 2>&1); b=$(cpu "$1")
  python3 -c "import sys; n=float('$(echo "$out" | awk '/requests in/{print $1}')'); r=float('$(echo "$out" | awk '/Requests\/sec/{print $2}')'); print('%.0f %.2f' % (r, ($b-$a)*1e6/100/n))"
}
for _ in $(seq 1 "$N"); do
  echo "$(run "$CEIL" http://127.0.0.1:9090/openrtb2/bid) $(run "$BID" 'http://127.0.0.1:8080/openrtb2/bid?exchange=bench-nbr')"
done | python3 -c "
import sys, statistics as st
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
for r in rows:
    print('ceiling %6.0f/s %5.2f us/req   callbid %6.0f/s %5.2f us/req   ratio %.3f' % (r[0], r[1], r[2], r[3], r[2]/r[0]))
m = lambda k: st.median(r[k] for r in rows)
print('MEDIAN ceiling %.0f/s %.2f us/req  callbid %.0f/s %.2f us/req  throughput ratio %.3f  cpu ratio %.3f'
      % (m(0), m(1), m(2), m(3), st.median(r[2]/r[0] for r in rows), m(1)/m(3)))
"
