#!/bin/bash
# Live ingest on bbolt, on PostgreSQL + S3 with one daemon, and with two
# daemons sharing the archive, side by side in one run.
#
# usage: scripts/bench-pg-live.sh OUTDIR "500 1000"
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

run_case() { # run_case KIND STREAMS
	local kind=$1 n=$2 tag=$1-$2 db bucket conf d1 d2 p1 p2 t0 t1 pg0 pg1 s0 s1 dc0 dc1
	db=b$(date +%s%N | tail -c 9); bucket=cv-$db
	if [ "$kind" != bbolt ]; then
		psql -d postgres -c "CREATE DATABASE $db"
		mkdir "$W/s3/$bucket"
		conf=$W/$tag.toml; pg_config "$db" "$bucket" >"$conf"
	else
		conf=""
	fi
	start_daemon "$tag-a" "$W/$tag-data-a" "$conf"; d1=$DPID; p1=$DPORT
	if [ "$kind" = pg2 ]; then start_daemon "$tag-b" "$W/$tag-data-b" "$conf"; d2=$DPID; p2=$DPORT; fi
	t0=$(date +%s.%N); pg0=$(cputicks $(pgtree)); s0=$(cputicks $S3PID)
	dc0=$(cputicks $d1 ${d2:-})
	if [ "$kind" = pg2 ]; then
		loadgen "$tag-a" $p1 $d1 $((n / 2)) &
		local l1=$!
		loadgen "$tag-b" $p2 $d2 $((n / 2))
		wait $l1
	else
		loadgen "$tag" $p1 $d1 $n
	fi
	t1=$(date +%s.%N); pg1=$(cputicks $(pgtree)); s1=$(cputicks $S3PID)
	dc1=$(cputicks $d1 ${d2:-})
	local hz; hz=$(getconf CLK_TCK)
	{
		echo "case $tag: wall $(echo "$t1 - $t0" | bc) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "cpu seconds: daemons $(echo "scale=1; ($dc1 - $dc0) / $hz" | bc), postgres $(echo "scale=1; ($pg1 - $pg0) / $hz" | bc), s3 gateway $(echo "scale=1; ($s1 - $s0) / $hz" | bc)"
		[ "$kind" != bbolt ] && psql -d "$db" -At -c "SELECT 'database size MiB ' || pg_database_size('$db') / 1048576 || ', rows ' || (SELECT count(*) FROM kv_rows)"
		[ "$kind" != bbolt ] && echo "objects $(find "$W/s3/$bucket" -type f | wc -l), $(du -sm "$W/s3/$bucket" | cut -f1) MiB"
		du -sm "$W/$tag-data-a" | sed 's/^/data dir MiB: /'
	} >"$OUT/$tag.summary"
	cat "$OUT/$tag.summary"
	kill $d1 ${d2:-}; wait $d1 ${d2:-} 2>/dev/null || true
	rm -rf "$W/$tag-data-a" "$W/$tag-data-b"
	[ "$kind" != bbolt ] && rm -rf "$W/s3/$bucket" && psql -d postgres -c "DROP DATABASE $db"
	return 0
}

{ date -u; nproc; lscpu | grep 'Model name'; "$PGBIN/postgres" --version; "$VGW" --version 2>/dev/null | head -1; git log -1 --oneline; } >"$OUT/machine.txt"
for n in $COUNTS; do
	for kind in bbolt pg1 pg2; do
		echo "== $kind $n streams, $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
		run_case $kind $n
	done
done
