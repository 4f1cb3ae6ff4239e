#!/usr/bin/env bash
# Compares callbid with the ceiling server (a fasthttp handler with a fixed
# 600-byte answer) under wrk, alternating short runs so both see the same
# machine. Prints per pair the requests/s and CPU µs per request of each
# server (process CPU from /proc ÷ requests wrk counted), its user-space
# part and (with perf installed) how often wrk fell asleep per request,
# then the medians and the spread. CPU per request is the figure to
# trust on a shared machine: it moves less than throughput when neighbours
# take the core (on a loaded VM still by ±15% per pair: use many pairs).
#
# Start both first, each on its own free port (see README "Performance"),
# the bidder with queue shedding off so that every request is decided:
#   sed 's/^  max_deadline: 50ms/&\n  max_queue_delay: -1ms/' configs/bench.yaml > /tmp/ratio.yaml
#   CALLBID_LISTEN=127.0.0.1:18080 CALLBID_ADMIN_LISTEN=127.0.0.1:18081 \
#     GOMAXPROCS=1 taskset -c 0 callbid -config /tmp/ratio.yaml &  BID=$!
#   GOMAXPROCS=1 taskset -c 0 callbid-bench ceiling -listen 127.0.0.1:19090 &  CEIL=$!
# Give both servers the same runtime settings: the deploy kit's
# GODEBUG=schedtrace=2147483647 (README "Performance", session 8) on one
# means it on the other too.
# Usage: bench/wrk-ratio.sh BIDDER_PID CEILING_PID [pairs] [seconds]
# The servers' addresses are found from their pids (the TCP ports they listen
# on); set BID_URL / CEIL_URL to override, BODY for another request body,
# CONNS (64) and LOAD_CPU (1) for wrk's connections and core.
# Both pids may be bidders (an A/B of two builds): set CEIL_URL to the
# second one's bid URL with ?exchange=bench-nbr.
set -euo pipefail
BID=$1 CEIL=$2 N=${3:-8} D=${4:-6}
BODY=${BODY:-$(dirname "$0")/testdata/wrk/mortgage-banner.json}
CONNS=${CONNS:-64} LOAD_CPU=${LOAD_CPU:-1}

# listen_ports PID: the loopback TCP ports PID listens on (from /proc). The
# bidder has several listeners (public, admin); find_url probes each with the
# body and takes the first that answers POST /openrtb2/bid with 200 or 204.
listen_ports() {
  local inodes
  inodes=$(find "/proc/$1/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n' | sort -u)
  [ -n "$inodes" ] || return 0
  # /proc/net/tcp: local_address (hex ip:port), st 0A = LISTEN, inode in column 10.
  local hex
  awk -v inodes="$inodes" 'BEGIN { n = split(inodes, a, "\n"); for (i = 1; i <= n; i++) want[a[i]] = 1 }
    $4 == "0A" && ($10 in want) { split($2, p, ":"); print p[2] }' /proc/net/tcp |
    while read -r hex; do echo $((16#$hex)); done
}
find_url() { # pid query -> URL of the listener answering POST /openrtb2/bid
  local port code
  for port in $(listen_ports "$1"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 2 -X POST -H 'Content-Type: application/json' \
      --data-binary "@$BODY" "http://127.0.0.1:$port/openrtb2/bid$2" || true)
    if [ "$code" = 200 ] || [ "$code" = 204 ]; then
      echo "http://127.0.0.1:$port/openrtb2/bid$2"
      return 0
    fi
  done
  echo "no listener of pid $1 answers POST /openrtb2/bid; set its URL" >&2
  return 1
}
find_metrics() { # pid -> URL of the listener serving callbid's /metrics, or nothing
  local port
  for port in $(listen_ports "$1"); do
    if curl -s -m 5 "http://127.0.0.1:$port/metrics" 2>/dev/null | grep -q '^callbid_bidder_requests_total'; then
      echo "http://127.0.0.1:$port/metrics"
      return 0
    fi
  done
}
CEIL_URL=${CEIL_URL:-$(find_url "$CEIL" "")}
BID_URL=${BID_URL:-$(find_url "$BID" "?exchange=bench-nbr")}
BID_METRICS=${BID_METRICS:-$(find_metrics "$BID")}
echo "ceiling $CEIL_URL (pid $CEIL)   callbid $BID_URL (pid $BID)   $N pairs of ${D}s, $CONNS connections, wrk on CPU $LOAD_CPU" >&2
# The ratio means something only when every request is a bid: a bidder that
# sheds (server.max_queue_delay) or no-bids answers cheaply. The share of
# bids among the requests callbid counted is printed per pair (from /metrics).
[ -n "$BID_METRICS" ] || echo "no callbid /metrics found for pid $BID: the bid share is not checked (set BID_METRICS)" >&2
counts() { # -> "bids requests heap-bytes-allocated" from callbid's /metrics, "0 0 0" without it
  if [ -z "$BID_METRICS" ]; then echo "0 0 0"; return; fi
  curl -s -m 5 "$BID_METRICS" | awk '/^callbid_bidder_bids_total /{b=$2} /^callbid_bidder_requests_total /{r=$2}
    /^go_memstats_alloc_bytes_total /{a=$2} END{printf "%d %d %d\n", b, r, a}'
}

LUA=$(mktemp --suffix .lua) PY=$(mktemp --suffix .py) ROWS=$(mktemp)
trap 'rm -f "$LUA" "$PY" "$ROWS" "$STAT"' EXIT
cat > "$LUA" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$BODY", "r"); wrk.body = f:read("*a"); f:close()
LUA
cpu() { awk '{print $14+$15, $14}' "/proc/$1/stat"; } # total and user ticks
# wrk's context switches, when perf is installed: how often wrk fell asleep
# waiting for answers. Each time, the server's next answer has to wake it,
# which the server pays for in its write (README "Performance").
STAT=$(mktemp)
wrk_run() {
  if command -v perf >/dev/null; then
    perf stat -x, -e context-switches -o "$STAT" taskset -c "$LOAD_CPU" wrk "$@"
  else
    echo "-1,,context-switches" > "$STAT"
    taskset -c "$LOAD_CPU" wrk "$@"
  fi
}
run() { # pid url -> "req/s cpu-µs-per-request user-µs-per-request wrk-sleeps-per-request"
  local a au b bu out cs
  read -r a au < <(cpu "$1"); out=$(wrk_run -t1 -c"$CONNS" -d"${D}s" -s "$LUA" "$2" 2>&1)
  read -r b bu < <(cpu "$1")
  cs=$(awk -F, '/context-switches/{print $1}' "$STAT")
  python3 -c "import sys; n=float('$(echo "$out" | awk '/requests in/{print $1}')'); r=float('$(echo "$out" | awk '/Requests\/sec/{print $2}')'); t=1e6/$(getconf CLK_TCK)/n; print('%.0f %.2f %.2f %.3f' % (r, ($b-$a)*t, ($bu-$au)*t, $cs/n))"
}
for _ in $(seq 1 "$N"); do
  read -r cr cu cuu ccs < <(run "$CEIL" "$CEIL_URL")
  read -r b0 r0 a0 < <(counts)
  read -r br bu buu bcs < <(run "$BID" "$BID_URL")
  read -r b1 r1 a1 < <(counts)
  # raw row on stderr as it comes: ceiling req/s, µs/req, callbid req/s, µs/req, bids, requests, bytes,
  # then the user-space part of each server's µs/req, then wrk's sleeps per request against each
  echo "$cr $cu $br $bu $((b1 - b0)) $((r1 - r0)) $((a1 - a0)) $cuu $buu $ccs $bcs" | tee -a "$ROWS" >&2
done
# The summary is a file, not python3 -c "…": a double quote in the program
# used to end the shell string early and python then printed nothing.
cat > "$PY" <<'PY'
import sys, statistics as st
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
share = lambda r: '%.3f' % (r[4]/r[5]) if r[5] else 'n/a'
# Heap bytes allocated per request (Go's counter): unlike CPU time it does
# not move with the neighbours' load, and it sets how often the GC runs.
# The runtime publishes the counter in batches (0 over a short pair is
# "not updated yet", not "nothing allocated"): trust it over longer pairs.
alloc = lambda r: '%.0f' % (r[6]/r[5]) if r[5] else 'n/a'
# The user-space part (utime) leaves out the kernel's share, most of which
# is the loopback write waking wrk: it shrinks as a server gets faster and
# wrk has less time to fall asleep between answers (README "Performance").
# wrk's sleeps per request (-1: perf missing) show the wake-ups each
# server's answers paid for.
for r in rows:
    print('ceiling %6.0f/s %5.2f us/req (user %5.2f, wrk sleeps %.3f)   callbid %6.0f/s %5.2f us/req (user %5.2f, wrk sleeps %.3f)   ratio %.3f (cpu %.3f)   bids/requests %s   callbid B/req %s' % (r[0], r[1], r[7], r[9], r[2], r[3], r[8], r[10], r[2]/r[0], r[1]/r[3], share(r), alloc(r)))
m = lambda k: st.median(r[k] for r in rows)
print('MEDIAN user-space us/req: ceiling %.2f  callbid %.2f   wrk sleeps per request: ceiling %.3f  callbid %.3f' % (m(7), m(8), m(9), m(10)))
tr = [r[2]/r[0] for r in rows]; cr = [r[1]/r[3] for r in rows]
print('MEDIAN ceiling %.0f/s %.2f us/req  callbid %.0f/s %.2f us/req  throughput ratio %.3f  cpu ratio %.3f'
      % (m(0), m(1), m(2), m(3), st.median(tr), m(1)/m(3)))
print('SPREAD throughput ratio %.3f - %.3f  cpu ratio per pair %.3f - %.3f (median %.3f)'
      % (min(tr), max(tr), min(cr), max(cr), st.median(cr)))
low = [r for r in rows if r[5] and r[4]/r[5] < 0.95]
if low:
    print('WARNING: %d pairs had under 95%% bids: no-bids are cheaper, so the ratio flatters callbid. A long series '
          'fills the simulated center (nbr 500, no headroom): restart agentsim and callbid between series.' % len(low))
PY
python3 "$PY" < "$ROWS"

