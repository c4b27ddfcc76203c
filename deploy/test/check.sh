#!/usr/bin/env bash
# What `make deploy-check` checks, after `make package`:
#   - both systemd units (agent, platform): systemd-analyze verify clean,
#     exposure <= 2.0;
#   - every .deb (agent or platform, by its Package field) and .ipk in
#     $DIST: exactly the expected files, modes, the packaged files equal to
#     their sources, maintainer scripts, conffiles; the user the postinst
#     creates is the unit's; every architecture make package builds;
#   - the agents and platforms: static, the right machine, linux/arm agent
#     <= 8 MB (DESIGN.md), the platform built here runs;
#   - deploy/agent.toml: documents every key of cmd/agent/config.go, and the
#     agent accepts it with every key uncommented;
#   - the udev rule (deploy/test/udev-rule.sh, needs root and udevadm), the
#     OpenWrt scripts (deploy/test/openwrt.sh) and the platform's .deb
#     maintainer scripts (deploy/test/deb-scripts.sh, against stubs).
# Run from the repository root.
set -euo pipefail
dist=${DIST:-dist}
max_exposure=${MAX_EXPOSURE:-2.0}
fail=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	fail=1
	fails=$((fails + 1))
}
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- systemd units ---
host_arch=$(go env GOARCH 2>/dev/null || echo amd64)
# check_unit UNIT BINARY: systemd-analyze verify clean (ExecStart pointed at
# BINARY, built here, since verify checks that it exists) and the exposure
# of systemd-analyze security at most $max_exposure.
check_unit() {
	local unit=$1 binary=$2 name out sec score
	name=$(basename "$unit")
	sed "s|/usr/bin/${name%.service}|$(realpath "$binary")|" "$unit" >"$tmp/$name"
	if out=$(systemd-analyze verify "$tmp/$name" 2>&1) && [ -z "$out" ]; then
		ok "systemd-analyze verify $unit: clean"
	else
		bad "systemd-analyze verify $unit:"
		echo "$out"
	fi
	sec=$(systemd-analyze security --offline=true "$unit" 2>&1 || true)
	score=$(sed -n "s/.*Overall exposure level for ${name//./\\.}: \([0-9.]*\).*/\1/p" <<<"$sec")
	if [ -z "$score" ]; then
		bad "systemd-analyze security $unit: no score"
		echo "$sec" | tail -5
	elif awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
		ok "systemd-analyze security --offline=true $unit: exposure $score (<= $max_exposure)"
	else
		bad "systemd-analyze security $unit: exposure $score > $max_exposure"
		grep '✗' <<<"$sec" || true
	fi
}
agent=$dist/bindpay-agent_linux_$host_arch
[ -x "$agent" ] || agent=$dist/bindpay-agent_linux_amd64
platform=$dist/bindpay-platform_linux_$host_arch
[ -x "$platform" ] || platform=$dist/bindpay-platform_linux_amd64
check_unit deploy/bindpay-agent.service "$agent"
check_unit deploy/bindpay-platform.service "$platform"

# --- agents and platforms ---
for b in "$dist"/bindpay-agent_linux_* "$dist"/bindpay-platform_linux_*; do
	info=$(file -b "$b" 2>/dev/null || true)
	case $b in
	*_armv7) want="ARM, EABI5" ;;
	*_arm64) want="ARM aarch64" ;;
	*_mipsle) want="LSB executable, MIPS" ;;
	*_amd64) want="x86-64" ;;
	*) continue ;;
	esac
	if [ -n "$info" ] && ! grep -q "$want" <<<"$info"; then
		bad "$b: not $want: $info"
	elif [ -n "$info" ] && ! grep -q "statically linked" <<<"$info"; then
		bad "$b: not statically linked: $info"
	else
		ok "$b: ${info:-(no file(1) here)}" | cut -c1-110
	fi
done
size=$(stat -c %s "$dist/bindpay-agent_linux_armv7")
if [ "$size" -le $((8 * 1024 * 1024)) ]; then
	ok "linux/arm agent: $((size / 1024)) KiB (<= 8 MiB)"
else
	bad "linux/arm agent: $size bytes > 8 MiB (DESIGN.md)"
fi
if out=$("$platform" version 2>&1) && [ -n "$out" ]; then
	ok "$platform version: $out"
else
	bad "$platform version: $out"
fi

# --- packages ---
# want_files LISTING EXPECTED: EXPECTED lines are "MODE PATH"; directories in
# the listing that are parents of expected files are allowed.
want_files() {
	local got=$1 want=$2 name=$3 extra
	while read -r mode path; do
		if ! grep -qE "^$mode +$path\$" "$got"; then
			bad "$name: missing $mode $path"
			grep -F "$path" "$got" | sed 's/^/      got: /' || true
		fi
	done <"$want"
	extra=$(awk '{print $2}' "$got" | grep -vxFf <(awk '{print $2}' "$want") | grep -v '/$' || true)
	[ -z "$extra" ] || bad "$name: unexpected files: $extra"
}
# same_file NAME ROOT PATH SOURCE
same_file() {
	cmp -s "$2/$3" "$4" || bad "$1: $3 differs from $4"
}

# unit_value UNIT KEY: the value of KEY= in UNIT.
unit_value() {
	sed -n "s/^$2=//p" "$1"
}
# scripts_match_unit NAME UNIT POSTINST POSTRM: the user the postinst creates
# is the unit's User= and Group=, the state directory it makes and the
# postrm purges is the unit's StateDirectory=.
scripts_match_unit() {
	local name=$1 unit=$2 postinst=$3 postrm=$4 user state
	user=$(sed -n 's/^user=//p' "$postinst")
	[ -n "$user" ] && [ "$user" = "$(unit_value "$unit" User)" ] && [ "$user" = "$(unit_value "$unit" Group)" ] ||
		bad "$name: postinst's user ${user:-(none)} is not $unit's User=/Group="
	state=/var/lib/$(unit_value "$unit" StateDirectory)
	grep -qx "	rm -rf $state" "$postrm" || bad "$name: postrm does not purge $state ($unit's StateDirectory=)"
	! grep -q '^state=' "$postinst" || grep -qx "state=$state" "$postinst" ||
		bad "$name: postinst's state directory is not $state ($unit's StateDirectory=)"
}

# check_agent_deb DEB NAME ARCH ROOT (ROOT: the .deb unpacked, DEBIAN/ too).
check_agent_deb() {
	local deb=$1 name=$2 arch=$3 root=$4 bin
	cat >"$tmp/want" <<-WANT
		-rwxr-xr-x /usr/bin/bindpay-agent
		-rw-r--r-- /lib/systemd/system/bindpay-agent.service
		-rw-r--r-- /lib/udev/rules.d/99-bindpay.rules
		-rw-r--r-- /etc/bindpay/agent.toml
		drwxr-xr-x /etc/bindpay/
	WANT
	want_files "$tmp/got" "$tmp/want" "$name"
	case $arch in
	amd64) bin=bindpay-agent_linux_amd64 ;; arm64) bin=bindpay-agent_linux_arm64 ;;
	armhf) bin=bindpay-agent_linux_armv7 ;; mipsel) bin=bindpay-agent_linux_mipsle ;;
	*) bad "$name: architecture $arch" && return ;;
	esac
	same_file "$name" "$root" usr/bin/bindpay-agent "$dist/$bin"
	same_file "$name" "$root" lib/systemd/system/bindpay-agent.service deploy/bindpay-agent.service
	same_file "$name" "$root" lib/udev/rules.d/99-bindpay.rules deploy/99-bindpay.rules
	same_file "$name" "$root" etc/bindpay/agent.toml deploy/agent.toml
	same_file "$name" "$root" DEBIAN/postinst deploy/pkg/deb-postinst.sh
	same_file "$name" "$root" DEBIAN/prerm deploy/pkg/deb-prerm.sh
	same_file "$name" "$root" DEBIAN/postrm deploy/pkg/deb-postrm.sh
	[ "$(cat "$root/DEBIAN/conffiles")" = /etc/bindpay/agent.toml ] || bad "$name: conffiles are not exactly agent.toml"
	scripts_match_unit "$name" deploy/bindpay-agent.service deploy/pkg/deb-postinst.sh deploy/pkg/deb-postrm.sh
}

# check_platform_deb DEB NAME ARCH ROOT
check_platform_deb() {
	local deb=$1 name=$2 arch=$3 root=$4 bin
	cat >"$tmp/want" <<-WANT
		-rwxr-xr-x /usr/bin/bindpay-platform
		-rw-r--r-- /lib/systemd/system/bindpay-platform.service
		-rw-r--r-- /etc/bindpay/platform.toml
		drwxr-xr-x /etc/bindpay/
	WANT
	want_files "$tmp/got" "$tmp/want" "$name"
	case $arch in
	amd64) bin=bindpay-platform_linux_amd64 ;; arm64) bin=bindpay-platform_linux_arm64 ;;
	*) bad "$name: architecture $arch" && return ;;
	esac
	same_file "$name" "$root" usr/bin/bindpay-platform "$dist/$bin"
	same_file "$name" "$root" lib/systemd/system/bindpay-platform.service deploy/bindpay-platform.service
	same_file "$name" "$root" etc/bindpay/platform.toml deploy/platform.toml
	same_file "$name" "$root" DEBIAN/postinst deploy/pkg/platform-deb-postinst.sh
	same_file "$name" "$root" DEBIAN/prerm deploy/pkg/platform-deb-prerm.sh
	same_file "$name" "$root" DEBIAN/postrm deploy/pkg/platform-deb-postrm.sh
	[ "$(cat "$root/DEBIAN/conffiles")" = /etc/bindpay/platform.toml ] || bad "$name: conffiles are not exactly platform.toml"
	grep -qx 'Depends: passwd' "$root/DEBIAN/control" || bad "$name: does not depend on passwd (useradd)"
	scripts_match_unit "$name" deploy/bindpay-platform.service deploy/pkg/platform-deb-postinst.sh deploy/pkg/platform-deb-postrm.sh
}

debs=("$dist"/*.deb)
[ -e "${debs[0]}" ] || bad "no .deb in $dist (make package)"
declare -A deb_arches=()
for deb in "${debs[@]}"; do
	[ -e "$deb" ] || continue
	name=$(basename "$deb")
	before=$fails
	pkg=$(dpkg-deb -f "$deb" Package)
	arch=$(dpkg-deb -f "$deb" Architecture)
	deb_arches[$pkg]+=" $arch"
	dpkg-deb -c "$deb" | awk '{ print $1, $NF }' | sed 's| \./| /|; s| /$| /|' >"$tmp/got"
	rm -rf "$tmp/x" && mkdir "$tmp/x" && dpkg-deb -x "$deb" "$tmp/x" && dpkg-deb -e "$deb" "$tmp/x/DEBIAN"
	case $pkg in
	bindpay-agent) check_agent_deb "$deb" "$name" "$arch" "$tmp/x" ;;
	bindpay-platform) check_platform_deb "$deb" "$name" "$arch" "$tmp/x" ;;
	*) bad "$name: package $pkg: neither bindpay-agent nor bindpay-platform" ;;
	esac
	[ "$fails" != "$before" ] || ok "$name: $pkg $(dpkg-deb -f "$deb" Version) $arch, $(wc -l <"$tmp/got") entries, scripts and conffiles"
done
# Every architecture make package builds, once each.
for want in "bindpay-agent: amd64 arm64 armhf mipsel" "bindpay-platform: amd64 arm64"; do
	pkg=${want%%:*}
	got=$(tr ' ' '\n' <<<"${deb_arches[$pkg]:-}" | grep . | sort | tr '\n' ' ' | sed 's/ $//')
	if [ "$pkg: $got" = "$want" ]; then
		ok ".deb of $want"
	else
		bad ".deb of $pkg: got ${got:-none}, want ${want#*: }"
	fi
done

ipks=("$dist"/*.ipk)
[ -e "${ipks[0]}" ] || bad "no .ipk in $dist (make package)"
for ipk in "${ipks[@]}"; do
	[ -e "$ipk" ] || continue
	name=$(basename "$ipk")
	before=$fails
	rm -rf "$tmp/i" && mkdir -p "$tmp/i/ctl" "$tmp/i/data"
	tar -xzf "$ipk" -C "$tmp/i"
	[ "$(cat "$tmp/i/debian-binary")" = 2.0 ] || bad "$name: debian-binary"
	tar -xzf "$tmp/i/control.tar.gz" -C "$tmp/i/ctl"
	tar -xzf "$tmp/i/data.tar.gz" -C "$tmp/i/data"
	tar -tvzf "$tmp/i/data.tar.gz" | awk '{ print $1, $NF }' | sed 's| \./| /|' >"$tmp/got"
	cat >"$tmp/want" <<-WANT
		-rwxr-xr-x /usr/bin/bindpay-agent
		-rwxr-xr-x /etc/init.d/bindpay-agent
		-rw-r--r-- /etc/hotplug.d/tty/30-bindpay-modem
		-rw-r--r-- /lib/upgrade/keep.d/bindpay-agent
		-rw-r--r-- /etc/bindpay/agent.toml
		drwxr-xr-x /etc/bindpay/
	WANT
	want_files "$tmp/got" "$tmp/want" "$name"
	arch=$(sed -n 's/^Architecture: //p' "$tmp/i/ctl/control")
	case $arch in
	arm_*) bin=bindpay-agent_linux_armv7 ;; aarch64_*) bin=bindpay-agent_linux_arm64 ;;
	mipsel_*) bin=bindpay-agent_linux_mipsle ;; *) bad "$name: architecture $arch" && continue ;;
	esac
	same_file "$name" "$tmp/i/data" usr/bin/bindpay-agent "$dist/$bin"
	same_file "$name" "$tmp/i/data" etc/init.d/bindpay-agent deploy/openwrt/bindpay-agent.init
	same_file "$name" "$tmp/i/data" etc/hotplug.d/tty/30-bindpay-modem deploy/openwrt/bindpay-modem.hotplug
	same_file "$name" "$tmp/i/data" etc/bindpay/agent.toml deploy/agent.toml
	same_file "$name" "$tmp/i/ctl" postinst deploy/pkg/ipk-postinst.sh
	same_file "$name" "$tmp/i/ctl" prerm deploy/pkg/ipk-prerm.sh
	grep -qx /etc/bindpay/agent.toml "$tmp/i/ctl/conffiles" || bad "$name: agent.toml is not a conffile"
	[ "$fails" != "$before" ] || ok "$name: $(sed -n 's/^Version: //p' "$tmp/i/ctl/control") $arch, $(wc -l <"$tmp/got") entries, scripts and conffiles"
done

# --- agent.toml ---
# The keys: TOML tags in config.go (tables included) against the documented
# keys ("#key = " lines) and tables ("[table]" lines).
grep -o 'toml:"[a-z_]*"' cmd/agent/config.go | sed 's/toml:"\(.*\)"/\1/' | sort -u >"$tmp/keys.go"
{
	sed -nE 's/^#?([a-z_]+) = .*/\1/p' deploy/agent.toml
	sed -nE 's/^\[([a-z_]+)\]$/\1/p' deploy/agent.toml
} | sort -u >"$tmp/keys.toml"
if diff -u "$tmp/keys.go" "$tmp/keys.toml" >"$tmp/keys.diff"; then
	ok "deploy/agent.toml documents all $(wc -l <"$tmp/keys.go") keys and tables of cmd/agent/config.go"
else
	bad "deploy/agent.toml and cmd/agent/config.go disagree (- config.go only, + agent.toml only):"
	tail -n +3 "$tmp/keys.diff"
fi
# Files under /etc/bindpay are looked for in $tmp/etc instead: this machine
# need not be a terminal (status loads platform.key_file, 64 hex digits, 0600).
mkdir -p "$tmp/etc"
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/etc/terminal.key")
sed -E 's/^#([a-z_]+ = )/\1/; s|"/etc/bindpay/|"'"$tmp"'/etc/|' deploy/agent.toml >"$tmp/all.toml"
if out=$("$agent" --config "$tmp/all.toml" --state-dir "$tmp" status 2>&1); [ $? -le 1 ]; then
	ok "the agent accepts deploy/agent.toml with every key set ($(grep -cE '^[a-z_]+ = ' "$tmp/all.toml") keys)"
else
	bad "the agent rejects deploy/agent.toml with every key set: $out"
fi
if out=$("$agent" --config deploy/agent.toml --state-dir "$tmp" status 2>&1); [ $? -le 1 ]; then
	ok "the agent accepts deploy/agent.toml as shipped"
else
	bad "the agent rejects deploy/agent.toml as shipped: $out"
fi

# --- udev rule, OpenWrt scripts, the platform's .deb scripts ---
if [ "$(id -u)" = 0 ] && { [ -n "${UDEVADM:-}" ] || command -v udevadm >/dev/null; }; then
	deploy/test/udev-rule.sh || fail=1
else
	echo "SKIP udev rule test: needs root and udevadm (or UDEVADM=path; .ci/run fetches one)"
fi
deploy/test/openwrt.sh || fail=1
deploy/test/deb-scripts.sh || fail=1

if [ "$fail" != 0 ]; then
	echo "deploy-check failed"
	exit 1
fi
echo "deploy-check passed"
