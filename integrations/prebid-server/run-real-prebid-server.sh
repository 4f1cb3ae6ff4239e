#!/usr/bin/env bash
# Runs a real Prebid Server (Go), built from a checkout of its public
# repository, against callbid, and checks that an /openrtb2/auction request
# with a banner and a native imp comes back with callbid's bids through the
# alias in static/bidder-info/callbid.yaml. Nothing of Prebid Server is
# downloaded or kept here: point the script at a checkout you have.
#
#   integrations/prebid-server/run-real-prebid-server.sh /path/to/prebid-server
#   PREBID_SERVER_SRC=/path/to/prebid-server integrations/prebid-server/run-real-prebid-server.sh
#
# Needs: go (Prebid Server's modules come from the Go module proxy), curl,
# python3. Without a checkout it prints SKIP and exits 0, so CI can call it
# unconditionally. Loopback only; everything it starts is stopped on exit.
set -euo pipefail

src="${1:-${PREBID_SERVER_SRC:-}}"
if [[ -z "$src" || ! -f "$src/main.go" || ! -d "$src/static/bidder-info" ]]; then
	echo "SKIP: no Prebid Server source checkout (pass its path or set PREBID_SERVER_SRC; got '${src}')"
	exit 0
fi
src="$(cd "$src" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
parent="$(sed -n 's/^aliasOf: *"\{0,1\}\([A-Za-z0-9_]*\)"\{0,1\}.*/\1/p' "$here/static/bidder-info/callbid.yaml")"
if [[ ! -f "$src/static/bidder-info/$parent.yaml" ]]; then
	echo "FAIL: this Prebid Server has no '$parent' adapter; use aliasOf: \"vrtcal\" for versions before v4.8.0" >&2
	exit 1
fi

work="$(mktemp -d)"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
waitfor() { # url, name, log: bounded wait for a 200
	for _ in $(seq 1 240); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.5
	done
	echo "FAIL: $2 did not come up at $1; its log:" >&2
	tail -n 40 "$3" >&2
	exit 1
}

echo "== building Prebid Server from $src ($(git -C "$src" describe --tags --always 2>/dev/null || echo 'not a git tree'))"
start=$(date +%s)
(cd "$src" && go build -o "$work/prebid-server" .)
echo "   built in $(( $(date +%s) - start ))s"
echo "== building callbid"
(cd "$repo" && go build -o "$work/callbid" ./cmd/callbid)

cb_port=$(freeport); cb_admin=$(freeport); pbs_port=$(freeport); pbs_admin=$(freeport)

# callbid: the embedded demo (in-process broker, simulated contact center),
# with an https notice base: Prebid Server marks every imp secure, and
# callbid does not bid on a secure imp with http notice URLs.
sed 's#^\(  notice_base_url:\).*#\1 "https://callbid.test"#' "$repo/configs/callbid.yaml" >"$work/callbid.yaml"
# Run from $work: the demo keeps its broker's data in ./.callbid-data.
(cd "$work" && CALLBID_LISTEN="127.0.0.1:$cb_port" CALLBID_ADMIN_LISTEN="127.0.0.1:$cb_admin" \
	CALLBID_NOTICE_SECRET="prebid-e2e-notice-secret-0123" CALLBID_CALLS_TOKEN="prebid-e2e" \
	exec "$work/callbid" -config "$work/callbid.yaml" >"$work/callbid.log" 2>&1) &
pids+=($!)

# Prebid Server reads ./static and ./pbs.yaml from its working directory: a
# copy of the checkout's static files plus the alias, so the checkout is
# left untouched.
mkdir -p "$work/pbs"
cp -R "$src/static" "$work/pbs/static"
cp "$here/static/bidder-info/callbid.yaml" "$work/pbs/static/bidder-info/callbid.yaml"
cat >"$work/pbs/pbs.yaml" <<YAML
host: 127.0.0.1
port: $pbs_port
admin_port: $pbs_admin
external_url: http://127.0.0.1:$pbs_port
gdpr:
  default_value: "0"
adapters:
  callbid:
    endpoint: "http://127.0.0.1:$cb_port/openrtb2/bid?exchange=prebid"
YAML
(cd "$work/pbs" && exec "$work/prebid-server" -logtostderr -v 1 >"$work/pbs.log" 2>&1) &
pids+=($!)

waitfor "http://127.0.0.1:$cb_admin/readyz" callbid "$work/callbid.log"
waitfor "http://127.0.0.1:$pbs_port/status" "Prebid Server" "$work/pbs.log"

echo "== POST /openrtb2/auction (banner 300x250 + native with a phone asset) to Prebid Server"
resp="$work/auction.json"
ok=0
# The simulated agents log in over the first seconds: retry until both bids
# come back (bounded).
for attempt in $(seq 1 20); do
	curl -fsS -X POST "http://127.0.0.1:$pbs_port/openrtb2/auction" -H 'Content-Type: application/json' \
		--data-binary @"$here/testdata/auction-banner-native.json" >"$resp"
	if python3 - "$resp" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bids = {b["impid"]: b for sb in r.get("seatbid", []) if sb.get("seat") == "callbid" for b in sb["bid"]}
sys.exit(0 if {"banner-1", "native-1"} <= set(bids) else 1)
PY
	then ok=1; break; fi
	sleep 1
done
if [[ $ok != 1 ]]; then
	echo "FAIL: no callbid bids for both imps after $attempt attempts. Response:" >&2
	python3 -m json.tool "$resp" >&2 || cat "$resp" >&2
	echo "--- callbid log" >&2; tail -n 20 "$work/callbid.log" >&2
	exit 1
fi
python3 - "$resp" "$cb_port" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bids = {b["impid"]: b for sb in r["seatbid"] if sb["seat"] == "callbid" for b in sb["bid"]}
b, n = bids["banner-1"], bids["native-1"]
checks = [
    ("banner bid typed banner by Prebid Server", b["ext"]["prebid"]["type"] == "banner"),
    ("banner markup has a tel: link", "tel:+1" in b["adm"]),
    ("banner mtype 1", b.get("mtype") == 1),
    ("native bid typed native by Prebid Server", n["ext"]["prebid"]["type"] == "native"),
    ("native markup carries the number in the phone data asset (id 2)", any(a.get("id") == 2 and any(c.isdigit() for c in a.get("data", {}).get("value", "")) for a in json.loads(n["adm"]).get("assets", []))),
    ("native mtype 4", n.get("mtype") == 4),
    ("nurl/burl/lurl on https", all(b.get(k, "").startswith("https://callbid.test/notice/") for k in ("nurl", "burl", "lurl"))),
    ("response currency USD", r.get("cur", "USD") == "USD"),
]
# What Prebid Server sent callbid (request.ext.prebid.debug shows it).
calls = r.get("ext", {}).get("debug", {}).get("httpcalls", {}).get("callbid", [])
if calls:
    sent = json.loads(calls[0]["requestbody"])
    checks += [
        ("Prebid Server called the endpoint with ?exchange=prebid", "exchange=prebid" in calls[0]["uri"]),
        ("Prebid Server marked every imp secure", all(i.get("secure") == 1 for i in sent["imp"])),
    ]
else:
    checks.append(("debug httpcalls present (request.ext.prebid.debug)", False))
for name, good in checks:
    print(("   ok   " if good else "   FAIL ") + name)
print("   banner: price %.4f crid %s  native: price %.4f crid %s" % (b["price"], b["crid"], n["price"], n["crid"]))
if not all(g for _, g in checks):
    print(json.dumps(r, indent=1)[:4000], file=sys.stderr)
    sys.exit(1)
# What a Prebid.js page does on render: fire burl with the price macro filled.
burl = b["burl"].replace("https://callbid.test", "http://127.0.0.1:" + sys.argv[2]).replace("${AUCTION_PRICE}", str(b["price"]))
open(sys.argv[1] + ".burl", "w").write(burl)
PY
code=$(curl -s -o /dev/null -w '%{http_code}' "$(cat "$resp.burl")")
if [[ "$code" != 204 ]]; then echo "FAIL: burl answered $code, want 204" >&2; exit 1; fi
echo "   ok   burl (billing notice, as Prebid.js fires it on render) answered 204"
echo "PASS: Prebid Server $(git -C "$src" describe --tags --always 2>/dev/null || true) routed banner and native auctions to callbid through the '$parent' alias"
