#!/usr/bin/env bash
# Checks deploy/99-bindpay.rules with the real udev rule engine, without a
# modem: `udevadm test` runs the rules over a fake sysfs that holds one USB
# modem port, in a private mount namespace (so /sys, /dev and /run/udev are
# private tmpfs copies and nothing on this machine changes).
#
#   deploy/test/udev-rule.sh [RULES]        (root; util-linux unshare)
#
# udevadm: $UDEVADM, else the one on PATH. systemd 252 (Debian 12) has no
# `udevadm verify`; `udevadm test` also reports every line it cannot parse.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rules=$(realpath "${1:-$here/../99-bindpay.rules}")
udevadm=${UDEVADM:-$(command -v udevadm || true)}
if [ -z "$udevadm" ]; then
	echo "udev-rule.sh: no udevadm (install udev, or set UDEVADM)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "udev-rule.sh: needs root for a private mount namespace" >&2
	exit 1
fi

# fake_sysfs ROOT VID PID IFNUM TTY: a USB device, its interface IFNUM and the
# tty on it, as the kernel lays them out; prints the tty's devpath.
fake_sysfs() {
	local r=$1 vid=$2 pid=$3 ifn=$4 tty=$5 maj=188 u i p t
	case $tty in ttyACM*) maj=166 ;; esac
	mkdir -p "$r/bus/usb" "$r/bus/usb-serial" "$r/class/tty"
	u=devices/pci0000:00/0000:00:14.0/usb1/1-1
	i=$u/1-1:1.$((16#$ifn))
	p=$i/$tty
	t=$p/tty/$tty
	mkdir -p "$r/$t"
	ln -s ../../../../../bus/usb "$r/$u/subsystem"
	ln -s ../../../../../../bus/usb "$r/$i/subsystem"
	ln -s ../../../../../../../bus/usb-serial "$r/$p/subsystem"
	ln -s ../../../../../../../../../class/tty "$r/$t/subsystem"
	printf 'MAJOR=189\nMINOR=1\nDEVNAME=bus/usb/001/002\nDEVTYPE=usb_device\nDRIVER=usb\nPRODUCT=%x/%x/318\nTYPE=0/0/0\nBUSNUM=001\nDEVNUM=002\n' \
		"$((16#$vid))" "$((16#$pid))" >"$r/$u/uevent"
	echo "$vid" >"$r/$u/idVendor"
	echo "$pid" >"$r/$u/idProduct"
	echo 0318 >"$r/$u/bcdDevice"
	echo Modem >"$r/$u/product"
	echo Vendor >"$r/$u/manufacturer"
	echo 189:1 >"$r/$u/dev"
	printf 'DEVTYPE=usb_interface\nDRIVER=option\nINTERFACE=255/0/0\n' >"$r/$i/uevent"
	echo "$ifn" >"$r/$i/bInterfaceNumber"
	echo ff >"$r/$i/bInterfaceClass"
	echo 00 >"$r/$i/bInterfaceSubClass"
	echo 00 >"$r/$i/bInterfaceProtocol"
	echo 'DRIVER=option1' >"$r/$p/uevent"
	printf 'MAJOR=%s\nMINOR=2\nDEVNAME=%s\n' "$maj" "$tty" >"$r/$t/uevent"
	echo "$maj:2" >"$r/$t/dev"
	ln -s "../../$t" "$r/class/tty/$tty"
	echo "/$t"
}

# one_case VID PID IFNUM TTY WANT (link|none): udevadm test in a private namespace.
one_case() {
	local out
	out=$(unshare --mount bash -euo pipefail -c '
		mount --make-rprivate /
		sys=$(mktemp -d)
		devpath=$('"$(declare -f fake_sysfs)"'; fake_sysfs "$sys" "$2" "$3" "$4" "$5")
		mount --bind "$sys" /sys
		mount -t tmpfs tmpfs /run && mkdir -p /run/udev/rules.d
		cp "$1" /run/udev/rules.d/
		[ -d /etc/udev/rules.d ] && mount -t tmpfs tmpfs /etc/udev/rules.d
		mount -t tmpfs tmpfs /dev
		SYSTEMD_DEVICE_VERIFY_SYSFS=0 SYSTEMD_LOG_LEVEL=debug "$0" test --action=add "/sys$devpath" 2>&1
	' "$udevadm" "$rules" "$@") || {
		echo "FAIL $*: udevadm test failed:"
		echo "$out" | tail -20
		return 1
	}
	local name
	name=$(basename "$rules")
	if grep -E "$name:[0-9]+ .*([Ii]nvalid|[Uu]nknown|[Ff]ailed|ignoring)" <<<"$out"; then
		echo "FAIL $*: udev could not parse all of $name"
		return 1
	fi
	local linked=none
	if grep -q '^DEVLINKS=.*/dev/bindpay-modem' <<<"$out" && grep -q '^ID_MM_DEVICE_IGNORE=1$' <<<"$out"; then
		linked="link"
	elif grep -q -e '/dev/bindpay-modem' -e '^ID_MM_DEVICE_IGNORE=' <<<"$out"; then
		linked="partial"
	fi
	if [ "$linked" != "$5" ]; then
		echo "FAIL $1:$2 interface $3 $4: got $linked, want $5"
		grep -E "$name|^ID_|^DEVLINKS" <<<"$out" || true
		return 1
	fi
	echo "ok   $1:$2 interface $3 $4 -> $5"
}

fail=0
for c in \
	"2c7c 0125 02 ttyUSB2 link" \
	"2c7c 0125 03 ttyUSB3 none" \
	"2c7c 0125 00 ttyUSB0 none" \
	"1e0e 9001 02 ttyUSB2 link" \
	"1e0e 9001 05 ttyUSB5 none" \
	"12d1 15c1 02 ttyUSB2 link" \
	"2c7c 0125 02 ttyACM0 link" \
	"1234 5678 02 ttyUSB2 none"; do
	# shellcheck disable=SC2086
	one_case $c || fail=1
done
if [ "$fail" != 0 ]; then
	echo "udev rule check failed ($rules)"
	exit 1
fi
echo "udev rule check passed ($rules, $("$udevadm" --version 2>/dev/null | head -1 | sed 's/^/udevadm /'))"
