#!/bin/bash
# Live and bulk ingest on bbolt, on PostgreSQL + S3 with one daemon, and
# with two daemons sharing the archive, side by side in one run.
#
# usage: scripts/bench-pg-live.sh OUTDIR "500 1000"
#        scripts/bench-pg-live.sh OUTDIR bulk
#
# Bulk: two long captures (BULK_SECONDS each, 13,000 s ≈ 300 MB; written
# by scripts/bulkcapture) are PUT at once, both to the one daemon or one
# to each of the two, and the time until both are answered 201 (committed
# and sealed) gives MB/s. Each round also copies the two files with
# dd bs=1M conv=fdatasync at once to the same disk, for reference.
#
# Starts a private PostgreSQL cluster (as the postgres user when run as
# root, on 127.0.0.1 and a free port) and a Versity S3 gateway on a
# directory, both under a new temporary directory removed at the end. For
# each stream count it runs, one after the other: one daemon on bbolt, one
# on PostgreSQL + S3, two on PostgreSQL + S3 (a load generator with half
# the streams against each, at once). Each case gets a fresh archive (a
# new database and bucket). Beside each load generator's report it writes
# CPU seconds of the daemons, the PostgreSQL cluster (postmaster, its
# backends and their exited children) and the gateway over the whole run,
# and the load average.
set -euo pipefail
OUT=${1:?usage: bench-pg-live.sh OUTDIR "STREAMS..."}
COUNTS=${2:-"500 1000"}
DURATION=${DURATION:-40s}
BULK_SECONDS=${BULK_SECONDS:-13000}
ROUNDS=${ROUNDS:-2}
RAMP=${RAMP:-15s}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
VGW=${VGW:-$(command -v versitygw || echo /root/go/bin/versitygw)}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."

W=$(mktemp -d /var/tmp/cvpglive.XXXX)
chmod 755 "$W"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$W/pg/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$W/pg" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# cputicks PID...: user+system clock ticks of the processes, with their
# reaped children.
cputicks() {
	local sum=0 p
	for p in "$@"; do
		[ -r /proc/$p/stat ] || continue
		sum=$((sum + $(sed 's/.*) //' /proc/$p/stat | awk '{print $12+$13+$14+$15}')))
	done
	echo $sum
}
pgtree() { echo "$PGPID" $(ps -o pid= --ppid "$PGPID"); }

go build -o "$W/callvault" ./cmd/callvault
BIN=$W/callvault
if [ "$COUNTS" = bulk ]; then
	go build -o "$W/bulkcapture" ./scripts/bulkcapture
	"$W/bulkcapture" -seconds "$BULK_SECONDS" -seed 1 >"$W/bulk1.pcap"
	"$W/bulkcapture" -seconds "$BULK_SECONDS" -seed 2 >"$W/bulk2.pcap"
fi

# PostgreSQL, durable as in production (fsync, synchronous_commit on).
mkdir "$W/pg" "$W/pgsock"; [ "$(id -u)" = 0 ] && chown postgres "$W/pg" "$W/pgsock"
as_pg "$PGBIN/initdb" --no-sync -A trust -U postgres -E UTF8 --locale=C -D "$W/pg" >"$W/initdb.log"
PGPORT=$(freeport)
as_pg "$PGBIN/pg_ctl" -D "$W/pg" -l "$W/pgsock/log" -w -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$W/pgsock -c max_connections=200" start >/dev/null
PGPID=$(head -1 "$W/pg/postmaster.pid")
psql() { as_pg "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"; }

# The S3 gateway.
mkdir "$W/s3"
S3PORT=$(freeport)
head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/s3.access"
head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/s3.secret"
ROOT_ACCESS_KEY=$(cat "$W/s3.access") ROOT_SECRET_KEY=$(cat "$W/s3.secret") "$VGW" --port 127.0.0.1:$S3PORT posix "$W/s3" >"$W/s3.log" 2>&1 &
S3PID=$!; PIDS+=($S3PID)
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$S3PORT) 2>/dev/null && break; sleep 0.2; done

export CALLVAULT_ADMIN_PASSWORD=adminpass-load-0123 CALLVAULT_INGEST_PASSWORD=ingestpass-load-0123
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/key"; echo >>"$W/key"; chmod 600 "$W/key"

# start_daemon TAG DATA CONFIG: starts a daemon, sets DPORT and DPID.
start_daemon() {
	DPORT=$(freeport)
	local args=(serve -data "$2" -key-file "$W/key" -listen 127.0.0.1:$DPORT)
	[ -n "$3" ] && args+=(-config "$3")
	"$BIN" "${args[@]}" >"$OUT/$1.serve.log" 2>&1 &
	DPID=$!; PIDS+=($DPID)
	for i in $(seq 300); do curl -s -o /dev/null http://127.0.0.1:$DPORT/ && return 0; sleep 0.2; done
	echo "daemon $1 did not start"; tail "$OUT/$1.serve.log"; exit 1
}

pg_config() { # pg_config DB BUCKET > toml
	cat <<EOF
[storage]
backend = "postgres+s3"
postgres_url = "postgres://postgres@127.0.0.1:$PGPORT/$1?sslmode=disable"
s3_endpoint = "http://127.0.0.1:$S3PORT"
s3_bucket = "$2"
s3_access_key_file = "$W/s3.access"
s3_secret_key_file = "$W/s3.secret"
EOF
}

loadgen() { # loadgen TAG PORT PID STREAMS
	"$BIN" loadgen --streams "$4" --duration "$DURATION" --ramp "$RAMP" --url http://127.0.0.1:$2/recordings/Files/ \
		--verify --api-user admin --pid "$3" --report "$OUT/$1.json" >"$OUT/$1.log" 2>&1 || echo "rc=$?" >>"$OUT/$1.log"
}

# prepare KIND TAG: a fresh archive (database and bucket) and its
# daemons; sets D1 P1 (and D2 P2 for pg2), DB and starts the counters.
prepare() {
	local kind=$1 tag=$2 conf
	DB=b$(date +%s%N | tail -c 9); BUCKET=cv-$DB; D2=""; P2=""
	if [ "$kind" != bbolt ]; then
		psql -d postgres -c "CREATE DATABASE $DB"
		mkdir "$W/s3/$BUCKET"
		conf=$W/$tag.toml; pg_config "$DB" "$BUCKET" >"$conf"
	else
		conf=""
	fi
	start_daemon "$tag-a" "$W/$tag-data-a" "$conf"; D1=$DPID; P1=$DPORT
	if [ "$kind" = pg2 ]; then start_daemon "$tag-b" "$W/$tag-data-b" "$conf"; D2=$DPID; P2=$DPORT; fi
	T0=$(date +%s.%N); PG0=$(cputicks $(pgtree)); S0=$(cputicks $S3PID)
	DC0=$(cputicks $D1 $D2)
}

# finish KIND TAG: writes OUT/TAG.summary (wall, CPU seconds, sizes),
# stops the daemons and removes the archive.
finish() {
	local kind=$1 tag=$2 t1 pg1 s1 dc1 hz
	t1=$(date +%s.%N); pg1=$(cputicks $(pgtree)); s1=$(cputicks $S3PID)
	dc1=$(cputicks $D1 $D2)
	hz=$(getconf CLK_TCK)
	{
		echo "case $tag: wall $(echo "$t1 - $T0" | bc) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "cpu seconds: daemons $(echo "scale=1; ($dc1 - $DC0) / $hz" | bc), postgres $(echo "scale=1; ($pg1 - $PG0) / $hz" | bc), s3 gateway $(echo "scale=1; ($s1 - $S0) / $hz" | bc)"
		[ "$kind" != bbolt ] && psql -d "$DB" -At -c "SELECT 'database size MiB ' || pg_database_size('$DB') / 1048576 || ', rows ' || (SELECT count(*) FROM kv_rows)"
		[ "$kind" != bbolt ] && echo "objects $(find "$W/s3/$BUCKET" -type f | wc -l), $(du -sm "$W/s3/$BUCKET" | cut -f1) MiB"
		du -sm "$W/$tag-data-a" | sed 's/^/data dir MiB: /'
	} >>"$OUT/$tag.summary"
	cat "$OUT/$tag.summary"
	kill $D1 $D2; wait $D1 $D2 2>/dev/null || true
	rm -rf "$W/$tag-data-a" "$W/$tag-data-b"
	[ "$kind" != bbolt ] && rm -rf "$W/s3/$BUCKET" && psql -d postgres -c "DROP DATABASE $DB"
	return 0
}

run_case() { # run_case KIND STREAMS
	local kind=$1 n=$2 tag=$1-$2 l1
	prepare "$kind" "$tag"
	if [ "$kind" = pg2 ]; then
		loadgen "$tag-a" $P1 $D1 $((n / 2)) &
		l1=$!
		loadgen "$tag-b" $P2 $D2 $((n / 2))
		wait $l1
	else
		loadgen "$tag" $P1 $D1 $n
	fi
	: >"$OUT/$tag.summary"
	finish "$kind" "$tag"
}

# put FILE PORT NAME: PUTs a capture, prints the status and seconds.
put() {
	curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' -u "ingest:$CALLVAULT_INGEST_PASSWORD" \
		-T "$1" "http://127.0.0.1:$2/recordings/Files/$3"
}

run_bulk() { # run_bulk KIND ROUND
	local kind=$1 tag=bulk-$1-$2 t0 t1 a b bytes
	prepare "$kind" "$tag"
	t0=$(date +%s.%N)
	put "$W/bulk1.pcap" $P1 bulk1.pcap >"$W/put1" &
	a=$!
	put "$W/bulk2.pcap" ${P2:-$P1} bulk2.pcap >"$W/put2" &
	b=$!
	wait $a $b
	t1=$(date +%s.%N)
	bytes=$(($(stat -c %s "$W/bulk1.pcap") + $(stat -c %s "$W/bulk2.pcap")))
	{
		echo "bulk $kind: answers $(tr '\n' ' ' <"$W/put1")/ $(tr '\n' ' ' <"$W/put2")(status, seconds)"
		echo "bulk $kind: $bytes bytes in $(echo "$t1 - $t0" | bc) s: $(echo "scale=1; $bytes / 1000000 / ($t1 - $t0)" | bc) MB/s"
	} >"$OUT/$tag.summary"
	grep -q '^201 ' "$W/put1" && grep -q '^201 ' "$W/put2" || echo "bulk $kind: an upload was not answered 201" >>"$OUT/$tag.summary"
	finish "$kind" "$tag"
}

# dd_round ROUND: the two files copied at once with fdatasync.
dd_round() {
	local t0 t1 bytes a
	t0=$(date +%s.%N)
	dd if="$W/bulk1.pcap" of="$W/dd1" bs=1M conv=fdatasync status=none &
	a=$!
	dd if="$W/bulk2.pcap" of="$W/dd2" bs=1M conv=fdatasync status=none
	wait $a
	t1=$(date +%s.%N)
	bytes=$(($(stat -c %s "$W/dd1") + $(stat -c %s "$W/dd2")))
	echo "dd round $1: $bytes bytes in $(echo "$t1 - $t0" | bc) s: $(echo "scale=1; $bytes / 1000000 / ($t1 - $t0)" | bc) MB/s, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/dd-$1.summary"
	rm -f "$W/dd1" "$W/dd2"
}

{ date -u; nproc; lscpu | grep 'Model name'; "$PGBIN/postgres" --version; "$VGW" --version 2>/dev/null | head -1; git log -1 --oneline; } >"$OUT/machine.txt"
if [ "$COUNTS" = bulk ]; then
	for r in $(seq "$ROUNDS"); do
		dd_round "$r"
		for kind in bbolt pg1 pg2; do
			echo "== bulk $kind round $r, $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
			run_bulk $kind "$r"
		done
	done
	exit 0
fi
for n in $COUNTS; do
	for kind in bbolt pg1 pg2; do
		echo "== $kind $n streams, $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
		run_case $kind $n
	done
done
