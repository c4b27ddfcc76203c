#!/usr/bin/env bash
# Checks the OpenWrt files without OpenWrt: the procd init script (against
# stub procd_* functions), its supervisor (against a fake agent) and the tty
# hotplug script (over a fake sysfs), all under busybox sh, OpenWrt's shell
# (dash when busybox is missing).
#
#   deploy/test/openwrt.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ow=$here/../openwrt
if command -v busybox >/dev/null && busybox sh -c true 2>/dev/null; then
	SH="busybox sh"
else
	SH=dash
	echo "note: busybox not found, using dash as the OpenWrt shell"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # NAME GOT WANT
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: got [$2], want [$3]"
		fail=1
	fi
}

# --- the init script, with procd stubbed: what command does it register? ---
cat >"$tmp/agent" <<'AGENT'
#!/bin/sh
# fake bindpay-agent: "status" exits $FAKE_STATUS
for a in "$@"; do last=$a; done
[ "$last" = status ] && exit "${FAKE_STATUS:-1}"
exit 0
AGENT
chmod +x "$tmp/agent"
harness() { # STATUS CONF_CONTENT
	printf '%s\n' "$2" >"$tmp/agent.toml"
	FAKE_STATUS=$1 $SH -c '
		procd_open_instance() { echo "open"; }
		procd_set_param() { k=$1; shift; echo "param $k $#"; [ "$k" = command ] && { shift 3; printf "arg[%s]\n" "$@"; }; }
		procd_close_instance() { echo "close"; }
		procd_add_reload_trigger() { :; }
		logger() { echo "logger $*"; }
		chown() { :; }
		grep() { [ "$3" = /etc/passwd ] && { [ -z "$NO_USER" ]; return; }; command grep "$@"; }
		. "$1" >/dev/null
		PROG=$2 CONF=$3 STATE_DIR=$4/state
		start_service
	' sh "$ow/bindpay-agent.init" "$tmp/agent" "$tmp/agent.toml" "$tmp"
}
out=$(NO_USER=1 harness 1 '' || true)
check "init: no user bindpay, not started as root" "$(grep -c '^open' <<<"$out" || true) $(grep -c 'missing' <<<"$out")" "0 1"
out=$(harness 0 '')
check "init: bound terminal is not started" "$(grep -c '^open' <<<"$out" || true)" 0
out=$(harness 1 '')
check "init: unbound terminal gets one instance" "$(grep -c '^open' <<<"$out")" 1
check "init: runs as bindpay" "$(grep -c '^param user 1' <<<"$out")" 1
check "init: agent command line" "$(grep '^arg' <<<"$out" | tr '\n' ' ')" \
	"arg[bindpay-agent] arg[10] arg[$tmp/agent] arg[--config] arg[$tmp/agent.toml] arg[--state-dir] arg[$tmp/state] arg[run] "
check "init: state dir created" "$([ -d "$tmp/state" ] && echo yes)" yes
out=$(harness 1 'state_dir = "/mnt/data/bindpay"')
check "init: state_dir in the config wins" "$(grep '^arg' <<<"$out" | tr '\n' ' ')" \
	"arg[bindpay-agent] arg[10] arg[$tmp/agent] arg[--config] arg[$tmp/agent.toml] arg[run] "

# --- the supervisor: restart on failure only, forward SIGTERM ---
supervise=$($SH -c '. "$1" >/dev/null; printf %s "$SUPERVISE"' sh "$ow/bindpay-agent.init")
cat >"$tmp/seq" <<'SEQ'
#!/bin/sh
# exits with the next status in $SEQ_FILE (one per line), then sleeps if "sleep"
n=$(head -n1 "$SEQ_FILE"); sed -i 1d "$SEQ_FILE"; echo "run $n" >>"$SEQ_LOG"
if [ "$n" = sleep ]; then trap 'echo "agent got TERM" >>"$SEQ_LOG"; exit 3' TERM; sleep 30 & wait $!; fi
exit "$n"
SEQ
chmod +x "$tmp/seq"
run_seq() { # STATUSES...
	printf '%s\n' "$@" >"$tmp/seqf"
	: >"$tmp/seqlog"
	SEQ_FILE=$tmp/seqf SEQ_LOG=$tmp/seqlog timeout 20 $SH -c "$supervise" bindpay-agent 0 "$tmp/seq" 2>/dev/null
}
rc=0; run_seq 1 1 0 || rc=$?
check "supervisor: retries 1, stops at 0" "$rc $(tr '\n' ' ' <"$tmp/seqlog")" "0 run 1 run 1 run 0 "
rc=0; run_seq 1 2 0 || rc=$?
check "supervisor: config error (2) is not retried" "$rc $(tr '\n' ' ' <"$tmp/seqlog")" "2 run 1 run 2 "
printf 'sleep\n' >"$tmp/seqf"
: >"$tmp/seqlog"
SEQ_FILE=$tmp/seqf SEQ_LOG=$tmp/seqlog $SH -c "$supervise" bindpay-agent 0 "$tmp/seq" &
sup=$!
for _ in $(seq 50); do grep -q 'run sleep' "$tmp/seqlog" && break; sleep 0.1; done
sleep 0.2
kill -TERM "$sup"
rc=0; wait "$sup" || rc=$?
check "supervisor: SIGTERM reaches the agent, exits 3" "$rc $(tr '\n' ' ' <"$tmp/seqlog")" "3 run sleep agent got TERM "

# --- the hotplug script over a fake sysfs ---
mk_tty() { # VID PID IFNUM TTY -> devpath
	local u=devices/platform/ehci/usb1/1-1 i t
	i=$u/1-1:1.$((16#$3)); t=$i/$4/tty/$4
	mkdir -p "$tmp/sys/$t"
	echo "$1" >"$tmp/sys/$u/idVendor"; echo "$2" >"$tmp/sys/$u/idProduct"
	echo "$3" >"$tmp/sys/$i/bInterfaceNumber"
	: >"$tmp/dev/$4"
	echo "/$t"
}
hotplug() { # ACTION DEVPATH DEVNAME
	ACTION=$1 DEVPATH=$2 DEVNAME=$3 SYSFS=$tmp/sys DEV=$tmp/dev $SH -c '
		logger() { :; }; chgrp() { :; }
		. "$1"' sh "$ow/bindpay-modem.hotplug"
}
mkdir -p "$tmp/dev"
rm -rf "$tmp/sys"
hotplug add "$(mk_tty 2c7c 0125 03 ttyUSB3)" ttyUSB3
check "hotplug: Quectel interface 03 is not linked" "$(readlink "$tmp/dev/bindpay-modem" || true)" ""
hotplug add "$(mk_tty 2c7c 0125 02 ttyUSB2)" ttyUSB2
check "hotplug: Quectel interface 02 is linked" "$(readlink "$tmp/dev/bindpay-modem")" ttyUSB2
check "hotplug: mode 0660" "$(stat -c %a "$tmp/dev/ttyUSB2")" 660
hotplug add "$(mk_tty 2c7c 0125 01 ttyUSB1)" ttyUSB1
check "hotplug: another port leaves the link" "$(readlink "$tmp/dev/bindpay-modem")" ttyUSB2
hotplug remove /devices/x/ttyUSB1 ttyUSB1
check "hotplug: removing another port keeps the link" "$(readlink "$tmp/dev/bindpay-modem")" ttyUSB2
hotplug remove /devices/x/ttyUSB2 ttyUSB2
check "hotplug: removing the port drops the link" "$(readlink "$tmp/dev/bindpay-modem" || true)" ""
rm -rf "$tmp/sys"
hotplug add "$(mk_tty 1e0e 9001 02 ttyUSB2)" ttyUSB2
check "hotplug: SIMCom interface 02 is linked" "$(readlink "$tmp/dev/bindpay-modem")" ttyUSB2
rm -f "$tmp/dev/bindpay-modem"; rm -rf "$tmp/sys"
hotplug add "$(mk_tty 1234 5678 02 ttyACM0)" ttyACM0
check "hotplug: unknown modem is not linked" "$(readlink "$tmp/dev/bindpay-modem" || true)" ""

# --- the .ipk maintainer scripts, on an image root (IPKG_INSTROOT) ---
pk=$here/../pkg
r=$tmp/root
mkdir -p "$r/etc/init.d"
printf 'root:x:0:0:root:/root:/bin/ash\ndaemon:*:1:1:daemon:/var:/bin/false\nnetwork:*:101:101:network:/var:/bin/false\n' >"$r/etc/passwd"
printf 'root:x:0:\ndaemon:x:1:\ndialout:x:20:\nnetwork:x:101:\n' >"$r/etc/group"
printf 'root:::0:99999:7:::\n' >"$r/etc/shadow"
IPKG_INSTROOT=$r $SH "$pk/ipk-postinst.sh" configure
IPKG_INSTROOT=$r $SH "$pk/ipk-postinst.sh" configure
check "ipk postinst: user bindpay, once" "$(grep -c '^bindpay:' "$r/etc/passwd")" 1
check "ipk postinst: user line" "$(grep '^bindpay:' "$r/etc/passwd")" "bindpay:x:200:200:bindpay agent:/var/lib/bindpay:/bin/false"
check "ipk postinst: group bindpay" "$(grep '^bindpay:' "$r/etc/group")" "bindpay:x:200:"
check "ipk postinst: in dialout, once" "$(grep '^dialout:' "$r/etc/group")" "dialout:x:20:bindpay"
check "ipk postinst: shadow entry" "$(grep -c '^bindpay:\*:' "$r/etc/shadow")" 1
check "ipk postinst: enabled at boot" "$(readlink "$r/etc/rc.d/S95bindpay-agent") $(readlink "$r/etc/rc.d/K10bindpay-agent")" \
	"../init.d/bindpay-agent ../init.d/bindpay-agent"
printf 'root:x:0:\ndialout:x:20:someone\n' >"$r/etc/group"
printf 'root:x:0:0:root:/root:/bin/ash\n' >"$r/etc/passwd"
IPKG_INSTROOT=$r $SH "$pk/ipk-postinst.sh" configure
check "ipk postinst: appended to dialout's members" "$(grep '^dialout:' "$r/etc/group")" "dialout:x:20:someone,bindpay"
IPKG_INSTROOT=$r $SH "$pk/ipk-prerm.sh" upgrade
check "ipk prerm upgrade: still enabled" "$(ls "$r/etc/rc.d" | tr '\n' ' ')" "K10bindpay-agent S95bindpay-agent "
IPKG_INSTROOT=$r $SH "$pk/ipk-prerm.sh" remove
check "ipk prerm remove: disabled" "$(ls "$r/etc/rc.d" | tr '\n' ' ')" ""

for f in "$ow/bindpay-agent.init" "$ow/bindpay-modem.hotplug" "$here/../pkg/"ipk-*.sh "$here/../pkg/"deb-*.sh; do
	$SH -n "$f" || { echo "FAIL syntax: $f"; fail=1; }
done
if [ "$fail" != 0 ]; then
	echo "OpenWrt checks failed"
	exit 1
fi
echo "OpenWrt checks passed ($SH)"
