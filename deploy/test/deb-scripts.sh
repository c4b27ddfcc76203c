#!/usr/bin/env bash
# Runs bindpay-platform's .deb maintainer scripts under dash (Debian's
# /bin/sh) with every command that changes the system stubbed (getent,
# groupadd, useradd, install, systemctl, rm, rmdir): what they would do on a
# first install, an upgrade, a removal and a purge. Nothing on this machine
# is changed. The systemctl calls that depend on a running systemd
# (/run/systemd/system) are checked as this machine has it or not.
#
#   deploy/test/deb-scripts.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pkg=$here/../pkg
SH=$(command -v dash || echo sh)
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

mkdir "$tmp/bin"
for c in groupadd useradd install systemctl rm rmdir; do
	printf '#!/bin/sh\necho "%s $*" >>"$STUB_LOG"\n' "$c" >"$tmp/bin/$c"
done
# getent passwd|group NAME: found when NAME is in $STUB_EXISTING.
cat >"$tmp/bin/getent" <<'STUB'
#!/bin/sh
echo "getent $*" >>"$STUB_LOG"
case " $STUB_EXISTING " in *" $2 "*) echo "$2:x:999:" ;; *) exit 2 ;; esac
STUB
chmod +x "$tmp/bin/"*

# run SCRIPT EXISTING ARGS...: the stub calls in $tmp/log, stderr in $tmp/err.
run() {
	local script=$1 existing=$2
	shift 2
	: >"$tmp/log"
	STUB_LOG=$tmp/log STUB_EXISTING=$existing PATH="$tmp/bin:$PATH" \
		$SH "$pkg/$script" "$@" 2>"$tmp/err" >/dev/null
}
calls() { grep -E "^($1) " "$tmp/log" | grep -v '^getent' || true; }
systemd=0
[ -d /run/systemd/system ] && systemd=1
# only_with_systemd CALL...: the calls made when systemd runs here; without
# it, only enable and disable (they work on an image being built, too).
only_with_systemd() {
	local c
	for c in "$@"; do
		case $c in
		"systemctl --no-reload enable "* | "systemctl --no-reload disable "*) echo "$c" ;;
		*) [ "$systemd" = 0 ] || echo "$c" ;;
		esac
	done
}

user=bindpay-platform
unit=bindpay-platform.service

run platform-deb-postinst.sh "" configure ""
check "postinst install: group and user" "$(calls 'groupadd|useradd')" \
	"groupadd --system $user
useradd --system --gid $user --home-dir /var/lib/$user --no-create-home --shell /usr/sbin/nologin --comment bindpay platform $user"
check "postinst install: state directory" "$(calls install)" "install -d -o $user -g $user -m 0750 /var/lib/$user"
check "postinst install: enabled, not started" "$(calls systemctl)" \
	"$(only_with_systemd "systemctl daemon-reload" "systemctl --no-reload enable $unit")"
err=$(cat "$tmp/err")
for w in master.key callback.key admin.token admin.token_file "chown $user:" "runuser -u $user -- bindpay-platform migrate" "systemctl start $unit"; do
	check "postinst install: says $w" "$(grep -cF -- "$w" <<<"$err" | sed 's/^[1-9][0-9]*$/yes/')" yes
done

run platform-deb-postinst.sh "$user" configure ""
check "postinst install, user exists: no new user" "$(calls 'groupadd|useradd')" ""

run platform-deb-postinst.sh "$user" configure 0.9.0
check "postinst upgrade: no new user" "$(calls 'groupadd|useradd')" ""
check "postinst upgrade: state directory" "$(calls install)" "install -d -o $user -g $user -m 0750 /var/lib/$user"
check "postinst upgrade: try-restart, not enabled again" "$(calls systemctl)" \
	"$(only_with_systemd "systemctl daemon-reload" "systemctl try-restart $unit")"
check "postinst upgrade: quiet" "$(cat "$tmp/err")" ""

run platform-deb-prerm.sh "$user" upgrade 1.0.0
check "prerm upgrade: nothing" "$(cat "$tmp/log")" ""
run platform-deb-prerm.sh "$user" remove
check "prerm remove: stopped and disabled" "$(calls systemctl)" \
	"$(only_with_systemd "systemctl stop $unit" "systemctl --no-reload disable $unit")"

run platform-deb-postrm.sh "$user" remove
check "postrm remove: the state is kept" "$(calls 'rm|rmdir')" ""
check "postrm remove: systemd reloaded" "$(calls systemctl)" "$(only_with_systemd "systemctl daemon-reload")"
run platform-deb-postrm.sh "$user" upgrade 1.0.0
check "postrm upgrade: nothing" "$(cat "$tmp/log")" ""
run platform-deb-postrm.sh "$user" purge
check "postrm purge: the state directory, /etc/bindpay if empty" "$(calls 'rm|rmdir')" \
	"rm -rf /var/lib/$user
rmdir /etc/bindpay"
check "postrm purge: no user removed" "$(grep -c 'userdel\|groupdel' "$tmp/log" || true)" 0

if [ "$fail" != 0 ]; then
	echo "deb maintainer script checks failed"
	exit 1
fi
echo "deb maintainer script checks passed ($SH)"
