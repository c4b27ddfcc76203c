#!/usr/bin/env bash
# Runs every fuzz test of the module for a short time each (FUZZTIME, default 20000x).
# Part of `make test`; a longer run: FUZZTIME=2000000x scripts/fuzz.sh
set -euo pipefail
fuzztime=${FUZZTIME:-20000x}
go=${GO:-go}
names=()
"$go" test -list '^Fuzz' ./... | while read -r a b _; do
	case "$a" in
	Fuzz*) names+=("$a") ;;
	ok)
		for n in "${names[@]+"${names[@]}"}"; do echo "$b $n"; done
		names=()
		;;
	esac
done >"${TMPDIR:-/tmp}/bindpay-fuzz-list.$$"
trap 'rm -f "${TMPDIR:-/tmp}/bindpay-fuzz-list.$$"' EXIT
count=0
while read -r pkg fn; do
	echo "fuzz $pkg $fn ($fuzztime)"
	"$go" test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$pkg"
	count=$((count + 1))
done <"${TMPDIR:-/tmp}/bindpay-fuzz-list.$$"
echo "fuzzed $count targets"
