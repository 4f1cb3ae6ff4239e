#!/usr/bin/env bash
# Fixed-rate tail of callbid beside the ceiling server (a fasthttp handler
# with a fixed answer), alternating runs of callbid-bench so both see the
# same machine, and per second what else used the servers' core: on a
# shared VM the p99 of a second follows the neighbours' use of that core
# (README "Performance", the tail), so a p99 means something only next to
# the ceiling's and to that figure.
#
# Start both servers pinned to one core (GOMAXPROCS=1 taskset -c 0, see the
# README recipe) and the bench's core free of other load. Run both with the
# deploy kit's GODEBUG=schedtrace=2147483647 (or both without): it keeps Go's
# monitor thread from waking on the server's core at every idle-to-busy
# edge, which at a fixed rate cost 12-18 % of the core (README
# "Performance", session 8).
# Usage: bench/tail-ceiling.sh BIDDER_PID CEILING_PID [rounds] [rate] [seconds]
# Env: BID_URL / CEIL_URL (base URLs; found from the pids' listening ports
# otherwise), CBB (callbid-bench binary, default callbid-bench on PATH),
# SERVER_CPU (0) and LOAD_CPU (1), OUT (directory for the JSON reports and
# samples; a temporary one by default).
set -euo pipefail
BID=$1 CEIL=$2 N=${3:-2} RATE=${4:-15000} D=${5:-15}
CBB=${CBB:-callbid-bench} SERVER_CPU=${SERVER_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-$(mktemp -d)}
HERE=$(dirname "$0")

ports() { # pid -> loopback TCP ports it listens on (from /proc)
  local inodes
  inodes=$(find "/proc/$1/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n' | sort -u)
  awk -v inodes="$inodes" 'BEGIN { n = split(inodes, a, "\n"); for (i = 1; i <= n; i++) want[a[i]] = 1 }
    $4 == "0A" && ($10 in want) { split($2, p, ":"); print p[2] }' /proc/net/tcp |
    while read -r hex; do echo $((16#$hex)); done
}
base_url() { # pid -> http://127.0.0.1:port of the listener answering POST /openrtb2/bid
  local port code
  for port in $(ports "$1"); do
    # A bidder refuses this body (400), the ceiling answers anything (200);
    # an admin listener has no such path (404).
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 2 -X POST -H 'Content-Type: application/json' \
      --data-binary '{}' "http://127.0.0.1:$port/openrtb2/bid?exchange=bench-nbr" || true)
    case $code in 200 | 204 | 400) echo "http://127.0.0.1:$port"; return 0 ;; esac
  done
  echo "no listener of pid $1 answers POST /openrtb2/bid; set its URL" >&2
  return 1
}
BID_URL=${BID_URL:-$(base_url "$BID")}
CEIL_URL=${CEIL_URL:-$(base_url "$CEIL")}
echo "ceiling $CEIL_URL (pid $CEIL)   callbid $BID_URL (pid $BID)   $N rounds of ${D}s at $RATE/s; reports in $OUT" >&2
for r in $(seq 1 "$N"); do
  for x in "ceil:$CEIL_URL:$CEIL" "cb:$BID_URL:$BID"; do
    name=${x%%:*} rest=${x#*:} pid=${x##*:} url=${rest%:*}
    # Per half second: the server's CPU and its threads' run-queue wait, and
    # the busy time of the servers' core and the bench's core (/proc).
    taskset -c "$LOAD_CPU" python3 "$HERE/tailsec.py" sample "$pid" "$SERVER_CPU" "$LOAD_CPU" $((D + 4)) > "$OUT/$name.$r.samples" &
    S=$!
    taskset -c "$LOAD_CPU" "$CBB" -target "$url" -exchange bench-nbr -target-pid "$pid" -quiet -rate "$RATE" \
      -duration "${D}s" -warmup 2s -max-p99 1h -json "$OUT/$name.$r.json" > "$OUT/$name.$r.txt" 2>&1
    wait "$S"
    echo "$name round $r: $(grep -E 'service ms' "$OUT/$name.$r.txt" | sed 's/^ *//')" >&2
  done
done
python3 "$HERE/tailsec.py" summary "$OUT"
