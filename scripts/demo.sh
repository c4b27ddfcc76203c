#!/usr/bin/env bash
# make demo: the whole activation flow on the simulated network, on this machine.
#
#   1. bindpay-netsim starts the operator's side (bindpay-platform's node on
#      SQLite in a temp dir, with the sim link into a simulated SMS centre and
#      a phone) and a simulated AT modem on a pty;
#   2. bindpay-agent starts on a fresh terminal: not bound, it asks the platform
#      and shows what to text;
#   3. the phone texts BIND <ID>; the confirmation SMS comes back over the modem;
#      the agent verifies it, persists the flag, deletes the SMS, exits 0;
#   4. the agent runs again: bound, it exits at once without opening the modem;
#   5. the platform's audit timeline of the terminal, from its admin API.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
TID=STB0012345678
PHONE=13800138000
work=$(mktemp -d "${TMPDIR:-/tmp}/bindpay-demo.XXXXXX")
netsim_pid=
agent_pid=

cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
	[ -n "$netsim_pid" ] && kill "$netsim_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# wait_for FILE PATTERN SECONDS: until PATTERN appears in FILE.
wait_for() {
	local file=$1 pattern=$2 secs=$3 i
	for ((i = 0; i < secs * 10; i++)); do
		grep -q -- "$pattern" "$file" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "demo: timed out after ${secs}s waiting for '$pattern' in $file" >&2
	cat "$file" >&2 || true
	return 1
}

step "Starting the simulated network (bindpay-netsim)"
"$BIN/bindpay-netsim" serve --listen 127.0.0.1:0 --terminal "$TID" --key-dir "$work" \
	--admin-token-file "$work/admin.token" \
	>"$work/netsim.out" 2>"$work/netsim.log" &
netsim_pid=$!
wait_for "$work/netsim.out" '^url ' 20
url=$(sed -n 's/^url //p' "$work/netsim.out")
modem=$(sed -n "s/^modem $TID //p" "$work/netsim.out")
echo "service platform: $url"
echo "terminal modem:   $modem (a pty speaking AT commands)"

cat >"$work/agent.toml" <<TOML
terminal_id = "$TID"
state_dir = "$work/state"
log_format = "text"

[modem]
device = "$modem"
baud = 115200

[platform]
url = "$url"
key_file = "$work/$TID.key"

[sms]
senders = ["10658000"]

[display]
outputs = ["console"]
lang = "en"
TOML
mkdir -p "$work/state"
echo "agent config:"
sed 's/^/    /' "$work/agent.toml"

step "Power-on: bindpay-agent run (not bound yet)"
"$BIN/bindpay-agent" --config "$work/agent.toml" run >"$work/agent.out" 2>"$work/agent.log" &
agent_pid=$!
wait_for "$work/agent.out" "BIND $TID" 30
cat "$work/agent.out"

step "The user texts BIND $TID to 10658000 from their phone ($PHONE)"
"$BIN/bindpay-netsim" phone --url "$url" --from "$PHONE" --to 10658000 "BIND $TID"

step "The confirmation SMS comes back to the terminal's modem"
rc=0
for ((i = 0; i < 300; i++)); do
	kill -0 "$agent_pid" 2>/dev/null || break
	sleep 0.1
done
wait "$agent_pid" || rc=$?
agent_pid=
echo "-- network trace:"
sed 's/^/    /' "$work/netsim.log"
echo "-- agent screen:"
sed 's/^/    /' "$work/agent.out"
echo "-- agent log:"
sed 's/^/    /' "$work/agent.log"
if [ "$rc" != 0 ]; then
	echo "demo: the agent exited $rc, want 0 (bound)" >&2
	exit 1
fi
echo "agent exited 0: bound"

step "The durable flag (bindpay-agent status)"
"$BIN/bindpay-agent" --config "$work/agent.toml" status

step "Power-on again: bound, so the agent exits at once without opening the modem"
start=$(date +%s%N)
"$BIN/bindpay-agent" --config "$work/agent.toml" --modem /nonexistent/modem run
end=$(date +%s%N)
echo "exit 0 in $(((end - start) / 1000000)) ms (the modem path was set to /nonexistent/modem: it was never opened)"

step "The platform's audit timeline of $TID (bindpay-netsim timeline, from the admin API)"
"$BIN/bindpay-netsim" timeline --url "$url" --admin-token-file "$work/admin.token" "$TID"

step "Demo complete"
