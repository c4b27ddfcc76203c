#!/bin/sh
# bindpay-platform .deb prerm: stop and disable on removal (not on upgrade).
set -e
unit=bindpay-platform.service
case "$1" in
remove | deconfigure)
	if [ -d /run/systemd/system ]; then
		systemctl stop "$unit" || true
	fi
	if command -v systemctl >/dev/null; then
		systemctl --no-reload disable "$unit" >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
