#!/bin/sh
# bindpay-platform .deb postrm: reload systemd; purge removes the state.
# The system user bindpay-platform is kept (Debian policy: files it owned may
# remain), and so are the secrets in /etc/bindpay: the master key is what
# every terminal key in the field derives from, so it is never deleted here.
set -e
case "$1" in
remove | purge)
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
	;;
esac
if [ "$1" = purge ]; then
	# The SQLite store (the default store.url); a PostgreSQL store is untouched.
	rm -rf /var/lib/bindpay-platform
	rmdir /etc/bindpay 2>/dev/null || true
	if [ -e /etc/bindpay/master.key ]; then
		echo "bindpay-platform: /etc/bindpay/master.key is kept (the terminals' keys derive from it); delete it by hand if it is no longer needed" >&2
	fi
fi
exit 0
