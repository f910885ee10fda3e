#!/usr/bin/env bash
# One live-load run: `callvault serve` on a fresh data directory and
# `callvault loadgen` against it on the same machine, as in BENCHMARKS.md
# ("Live load"). Prints the load generator's summary, the commit figures
# from /metrics and the data directory's size.
#
#   scripts/liveload.sh BIN STREAMS [GOGC] [OUT]
#
# BIN is a callvault binary (build two and run them one after the other to
# compare), STREAMS the streams (two per call: 10000 is 5,000 calls). OUT,
# when given, is a directory that gets the JSON report and the metrics.
#
# With NETNS=1 (as root) the load generator runs in a network namespace
# of its own, joined to the daemon's by a veth pair (10.231.7.1 for the
# daemon, 10.231.7.2 for the load generator), so that its traffic crosses
# an interface as real phones' does.
#
# With TLS=1 the daemon serves HTTPS (its generated certificate) and the
# load generator uploads over it (--insecure), each packet a TLS record.
#
# With KEEP=1 the data directory is left in place (its path is printed).
#
# LOADGEN=PATH runs the load generator from another binary (e.g. when BIN
# is a -tags pprof build serving profiles on CALLVAULT_PPROF, which the
# load generator must not also try to serve).
set -euo pipefail
bin=$1 streams=$2 gogc=${3:-100} out=${4:-}
d=$(mktemp -d /var/tmp/cvload.XXXX)
host=127.0.0.1 inns=()
if [ "${NETNS:-0}" = 1 ]; then
	ns=cvload$$
	ip netns add "$ns"
	ip link add "v$$a" type veth peer name "v$$b"
	ip link set "v$$b" netns "$ns"
	ip addr add 10.231.7.1/30 dev "v$$a"; ip link set "v$$a" up
	ip netns exec "$ns" ip addr add 10.231.7.2/30 dev "v$$b"
	ip netns exec "$ns" ip link set "v$$b" up; ip netns exec "$ns" ip link set lo up
	host=10.231.7.1 inns=(ip netns exec "$ns")
fi
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; if [ "${KEEP:-0}" = 1 ]; then echo "kept: $d"; else rm -rf "$d"; fi; [ -n "${ns:-}" ] && { ip link del "v$$a" 2>/dev/null; ip netns del "$ns"; }' EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$d/key"; echo >> "$d/key"; chmod 600 "$d/key"
export CALLVAULT_ADMIN_PASSWORD=adminpass-load-0123 CALLVAULT_INGEST_PASSWORD=ingestpass-load-0123
port=$((20000 + RANDOM % 10000))
scheme=http conf=() insecure=()
if [ "${TLS:-0}" = 1 ]; then
	printf '[server]\ntls = true\n' > "$d/callvault.toml"
	scheme=https conf=(--config "$d/callvault.toml") insecure=(--insecure)
fi
GOGC=$gogc "$bin" serve "${conf[@]}" -data "$d/data" -key-file "$d/key" -listen $host:$port > "$d/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sk -o /dev/null $scheme://$host:$port/ && break; sleep 0.3; done
echo "start: $(uptime)"
report=()
if [ -n "$out" ]; then mkdir -p "$out"; report=(--report "$out/report.json"); fi
rc=0
"${inns[@]}" env -u CALLVAULT_PPROF "${LOADGEN:-$bin}" loadgen --streams "$streams" --duration 40s --ramp 15s --url $scheme://$host:$port/recordings/Files/ \
  "${insecure[@]}" --verify --api-user admin --pid $pid "${report[@]}" 2>&1 | grep -v '^loadgen: .*: Put ' || rc=$?
echo "end: $(uptime)"
curl -sk $scheme://$host:$port/metrics | grep -E '^callvault_commit_(duration_seconds|batch_bytes|batch_ops)_(sum|count)' |
  tee ${out:+"$out/commits.txt"}
du -sh "$d/data"
# Storage per call-minute: the data directory's bytes over the call-minutes
# sent, as allocated on disk (the archive file's growth step not yet
# written is a hole) and as the files' sizes.
awk -v a="$(du -s -B1 "$d/data" | cut -f1)" -v b="$(du -sb "$d/data" | cut -f1)" -v s="$streams" \
  'BEGIN { m = s / 2 * 40 / 60; printf "storage: %.0f bytes allocated, %.3f MB per call-minute; files %.0f bytes, %.3f (%d calls of 40 s)\n", a, a / 1e6 / m, b, b / 1e6 / m, s / 2 }'
exit $rc
