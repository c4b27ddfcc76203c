#!/bin/sh
# bindpay-agent .deb postrm: reload udev and systemd; purge removes the state.
# The system user bindpay is kept (Debian policy: files it owned may remain).
set -e
case "$1" in
remove | purge)
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
	if [ -S /run/udev/control ] && command -v udevadm >/dev/null; then
		udevadm control --reload-rules || true
	fi
	;;
esac
if [ "$1" = purge ]; then
	# The binding record: a purged terminal asks to be bound again.
	rm -rf /var/lib/bindpay
	rmdir /etc/bindpay 2>/dev/null || true
fi
exit 0
