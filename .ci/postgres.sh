# Sourced by .ci/run: a throwaway PostgreSQL cluster for the store tests
# (internal/server/store runs its conformance suite on it; DESIGN.md:
# BINDPAY_TEST_POSTGRES). Installs Debian's postgresql when no initdb is
# there, never leaves Debian's own service running, and starts a cluster of
# its own in a temporary directory on 127.0.0.1 and a free port, as the
# postgres user (PostgreSQL refuses to run as root). start_test_postgres
# exports BINDPAY_TEST_POSTGRES; stop_test_postgres (run it from an EXIT
# trap) stops the cluster and removes its directory.

pg_bindir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && { echo "$d"; return 0; }
	done
	return 1
}

install_postgres() {
	echo ".ci/postgres.sh: installing postgresql"
	# Keep the package's own cluster from being started: a policy-rc.d that
	# refuses every service start, unless the machine already has one.
	local policy=/usr/sbin/policy-rc.d own_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		own_policy=1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
	[ -n "$own_policy" ] && rm -f "$policy"
	# Whatever started anyway (a policy-rc.d that allows starts), stop it.
	if command -v pg_lsclusters >/dev/null; then
		pg_lsclusters --no-header 2>/dev/null | while read -r ver name port status _; do
			if [ "$status" = online ]; then
				echo ".ci/postgres.sh: stopping Debian's cluster $ver/$name (port $port)"
				pg_ctlcluster "$ver" "$name" stop || true
			fi
		done
	fi
}

# port_in_use PORT: something accepts connections on 127.0.0.1:PORT.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_test_postgres() {
	local bindir
	if ! bindir=$(pg_bindir); then
		install_postgres
		bindir=$(pg_bindir) || { echo ".ci/postgres.sh: no initdb under /usr/lib/postgresql/*/bin after installing postgresql" >&2; return 1; }
	fi
	local as=()
	if [ "$(id -u)" = 0 ]; then
		as=(runuser -u postgres --)
	fi
	TEST_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bindpay-ci-pg.XXXXXX")
	TEST_PG_BIN=$bindir
	TEST_PG_AS=("${as[@]}")
	[ "$(id -u)" = 0 ] && chown postgres: "$TEST_PG_DIR"
	"${as[@]}" "$bindir/initdb" -D "$TEST_PG_DIR/data" -U postgres -A trust -E UTF8 --no-locale >"$TEST_PG_DIR/initdb.log" 2>&1 || {
		cat "$TEST_PG_DIR/initdb.log" >&2
		return 1
	}
	local port try
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 20000))
		port_in_use "$port" && continue
		if "${as[@]}" "$bindir/pg_ctl" -D "$TEST_PG_DIR/data" -l "$TEST_PG_DIR/server.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $TEST_PG_DIR -c fsync=off -c max_connections=200" start >/dev/null; then
			export BINDPAY_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
			echo ".ci/postgres.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($TEST_PG_DIR)"
			return 0
		fi
		echo ".ci/postgres.sh: start on port $port failed (try $try):" >&2
		tail -n 5 "$TEST_PG_DIR/server.log" >&2 || true
	done
	return 1
}

stop_test_postgres() {
	[ -n "${TEST_PG_DIR:-}" ] || return 0
	if [ -f "$TEST_PG_DIR/data/postmaster.pid" ]; then
		"${TEST_PG_AS[@]}" "$TEST_PG_BIN/pg_ctl" -D "$TEST_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$TEST_PG_DIR"
	TEST_PG_DIR=
}
