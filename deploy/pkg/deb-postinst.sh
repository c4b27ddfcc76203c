#!/bin/sh
# bindpay-agent .deb postinst: the system user, then udev and systemd.
set -e

user=bindpay
unit=bindpay-agent.service

ensure_user() {
	getent group dialout >/dev/null || groupadd --system dialout
	getent group "$user" >/dev/null || groupadd --system "$user"
	if ! getent passwd "$user" >/dev/null; then
		useradd --system --gid "$user" --groups dialout \
			--home-dir /var/lib/bindpay --no-create-home \
			--shell /usr/sbin/nologin --comment "bindpay agent" "$user"
	elif ! id -nG "$user" | tr ' ' '\n' | grep -qx dialout; then
		usermod --append --groups dialout "$user"
	fi
}

case "$1" in
configure)
	ensure_user
	# The modem link and ID_MM_DEVICE_IGNORE for a modem already plugged in.
	if [ -S /run/udev/control ] && command -v udevadm >/dev/null; then
		udevadm control --reload-rules || true
		udevadm trigger --action=add --subsystem-match=tty || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
	if [ -z "$2" ]; then
		# First install: enabled for the next boot, not started, since
		# platform.url and sms.senders must be set first.
		if command -v systemctl >/dev/null; then
			systemctl --no-reload enable "$unit" >/dev/null 2>&1 || true
		fi
		echo "bindpay-agent: set platform.url and sms.senders in /etc/bindpay/agent.toml, then: systemctl start $unit" >&2
	elif [ -d /run/systemd/system ]; then
		# Upgrade: an agent still waiting for its SMS restarts on the new
		# binary (the SMS stays in the modem's storage until recorded).
		systemctl try-restart "$unit" || true
	fi
	;;
esac
exit 0
