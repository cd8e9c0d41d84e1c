#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tongbao's tests and benchmarks, on
# 127.0.0.1 with its own data folder and port, apart from any cluster the
# machine runs.
#
#   eval "$(.ci/postgres.sh start)"   # start it; exports TONGBAO_TEST_POSTGRES
#   go test ./...                     # now runs every store test on PostgreSQL too
#   .ci/postgres.sh stop              # stop it and remove its data folder
#
# start installs PostgreSQL from Debian's packages when no server binaries
# are found (that needs root and apt), creates the cluster if its folder is
# empty, and starts it unless it is already running. It prints the export
# line on stdout and everything else on stderr.
#
# Environment: TONGBAO_PG_DIR (data folder, default /tmp/tongbao-pg),
# TONGBAO_PG_PORT (default 55432).
set -euo pipefail

dir=${TONGBAO_PG_DIR:-/tmp/tongbao-pg}
port=${TONGBAO_PG_PORT:-55432}
database=tongbao

log() { echo "postgres.sh: $*" >&2; }

# bindir finds the newest installed server's binaries.
bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [[ -n $d && -x $d/pg_ctl && -x $d/initdb ]]; then
		echo "$d"
	fi
}

install() {
	if [[ $(id -u) != 0 ]]; then
		log "PostgreSQL is not installed; run as root, or: apt-get install -y postgresql"
		exit 1
	fi
	log "installing PostgreSQL from Debian's packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq postgresql >&2
}

# as runs a command as the cluster's owner: postgres when we are root (the
# server refuses to run as root), ourselves otherwise.
as() {
	if [[ $(id -u) == 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local bin
	bin=$(bindir)
	if [[ -z $bin ]]; then
		install
		bin=$(bindir)
		[[ -n $bin ]] || { log "no PostgreSQL server binaries after installing"; exit 1; }
	fi
	if [[ ! -s $dir/PG_VERSION ]]; then
		log "creating a cluster in $dir"
		mkdir -p "$dir"
		[[ $(id -u) == 0 ]] && chown postgres:postgres "$dir"
		chmod 700 "$dir"
		as "$bin/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --no-locale >&2
		# Durability stays at PostgreSQL's defaults (fsync, synchronous_commit
		# and full_page_writes on): the tests and the benchmark measure the
		# real thing. The rest gives a batch of the ledger room: the WAL may
		# grow between checkpoints instead of forcing one every few batches.
		cat >>"$dir/postgresql.conf" <<CONF
# tongbao's throwaway cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
shared_buffers = 512MB
max_wal_size = 4GB
min_wal_size = 256MB
checkpoint_timeout = 15min
wal_buffers = 64MB
fsync = on
synchronous_commit = on
full_page_writes = on
log_min_messages = warning
CONF
	fi
	if as "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		log "already running in $dir on port $port"
	else
		as "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >&2
	fi
	if ! as "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
		as "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE $database" >&2
	fi
	echo "export TONGBAO_TEST_POSTGRES='postgres://postgres@127.0.0.1:$port/$database?sslmode=disable'"
}

stop() {
	local bin
	bin=$(bindir)
	if [[ -n $bin && -s $dir/PG_VERSION ]]; then
		as "$bin/pg_ctl" -D "$dir" -m fast -w stop >&2 || true
	fi
	rm -rf "$dir"
}

case ${1:-} in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
