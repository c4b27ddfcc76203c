#!/usr/bin/env bash
# Builds every package's tests for linux/arm (GOARM=7) with `go test -c` and
# runs them under qemu-user: the same test binaries a terminal would run.
#
#   tools/test-cross.sh            (from the repository root; make test-cross)
#
# Environment: GO (go), QEMU_ARM (qemu-arm-static, else qemu-arm),
# OUT (dist/test-arm), TEST_TIMEOUT (10m per package).
#
# The end-to-end tests (e2e) build the agent with `go build` and exec it. A
# qemu-user process cannot exec a foreign binary without binfmt_misc, so for
# them a `go` shim first on PATH builds the agent for linux/arm and installs a
# two-line wrapper that runs it under qemu: the agent under test is the arm
# binary, signals and exit codes pass through qemu unchanged.
set -euo pipefail
go=${GO:-go}
out=${OUT:-dist/test-arm}
timeout=${TEST_TIMEOUT:-10m}
qemu=${QEMU_ARM:-$(command -v qemu-arm-static || command -v qemu-arm || true)}
if [ -z "$qemu" ]; then
	echo "test-cross: no qemu-arm or qemu-arm-static (apt-get install qemu-user)" >&2
	exit 1
fi
root=$(pwd)
real_go=$(command -v "$go")
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/*.test "$out"/*.log
export CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7

echo "test-cross: $("$qemu" --version | head -1), $("$go" version)"
mapfile -t pkgs < <("$go" list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{"\t"}}{{.Dir}}{{end}}' ./...)
if [ "${#pkgs[@]}" = 0 ]; then
	echo "test-cross: no packages with tests" >&2
	exit 1
fi
for p in "${pkgs[@]}"; do
	ip=${p%%$'\t'*}
	"$go" test -c -o "$out/${ip//\//_}.test" "$ip"
done
unset GOOS GOARCH GOARM CGO_ENABLED

# The go shim for e2e (see above).
shim=$out/shim
mkdir -p "$shim"
cat >"$shim/go" <<SHIM
#!/bin/sh
# test-cross shim: "go build -o BIN bindpay/cmd/agent" builds for linux/arm
# and makes BIN run the result under qemu; anything else is the real go.
if [ "\$1" = build ] && [ "\$2" = -o ] && [ "\$4" = bindpay/cmd/agent ] && [ \$# = 4 ]; then
	cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 "$real_go" build -o "\$3.arm" ./cmd/agent || exit 1
	printf '#!/bin/sh\nexec %s %s "\$@"\n' "$qemu" "\$3.arm" >"\$3" && chmod +x "\$3"
	exit 0
fi
exec "$real_go" "\$@"
SHIM
chmod +x "$shim/go"

passed=0 failed=0
failures=()
for p in "${pkgs[@]}"; do
	ip=${p%%$'\t'*} dir=${p#*$'\t'}
	bin=$out/${ip//\//_}.test log=$out/${ip//\//_}.log
	start=$(date +%s)
	rc=0
	(cd "$dir" && PATH="$shim:$PATH" "$qemu" "$bin" -test.v -test.count=1 -test.timeout="$timeout" >"$log" 2>&1) || rc=$?
	secs=$(($(date +%s) - start))
	# Top-level tests only: subtests are counted by their parents.
	ran=$(grep -c '^--- \(PASS\|FAIL\|SKIP\)' "$log" || true)
	skipped=$(sed -n 's/^--- SKIP: \([^ ]*\).*/\1/p' "$log" | tr '\n' ' ')
	if [ "$rc" = 0 ] && tail -n 1 "$log" | grep -qx PASS; then
		echo "ok   $ip ($ran tests, ${secs}s under qemu-arm)${skipped:+; skipped: $skipped}"
		passed=$((passed + 1))
	else
		echo "FAIL $ip (exit $rc, ${secs}s under qemu-arm); last lines of $log:"
		tail -n 30 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		failures+=("$ip")
	fi
done
echo "linux/arm packages: $passed passed, $failed failed"
if [ "$failed" != 0 ]; then
	echo "test-cross: failed: ${failures[*]}" >&2
	exit 1
fi
