#!/bin/sh
# bindpay-platform .deb postinst: the system user of the unit (User=,
# Group=, StateDirectory= of bindpay-platform.service), then systemd.
set -e

user=bindpay-platform
state=/var/lib/bindpay-platform
unit=bindpay-platform.service

ensure_user() {
	getent group "$user" >/dev/null || groupadd --system "$user"
	if ! getent passwd "$user" >/dev/null; then
		useradd --system --gid "$user" \
			--home-dir "$state" --no-create-home \
			--shell /usr/sbin/nologin --comment "bindpay platform" "$user"
	fi
}

case "$1" in
configure)
	ensure_user
	# The unit's StateDirectory= (owner and StateDirectoryMode=, as systemd
	# sets them at each start), made now so that `bindpay-platform migrate`
	# can run as the user before the first start.
	install -d -o "$user" -g "$user" -m 0750 "$state"
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
	if [ -z "$2" ]; then
		# First install: enabled for the next boot, not started, since the
		# master key, the admin token and the callback key must exist first.
		if command -v systemctl >/dev/null; then
			systemctl --no-reload enable "$unit" >/dev/null 2>&1 || true
		fi
		cat >&2 <<-MSG
			bindpay-platform: enabled, not started. First create its secrets (mode 0600, owner $user), set
			admin.token_file and the SMS gateway ([link]) in /etc/bindpay/platform.toml, and make the schema:
			  cd /etc/bindpay && (umask 077; openssl rand -hex 32 >master.key; openssl rand -hex 16 >callback.key; openssl rand -hex 16 >admin.token)
			  chown $user: /etc/bindpay/master.key /etc/bindpay/callback.key /etc/bindpay/admin.token
			  runuser -u $user -- bindpay-platform migrate
			  systemctl start $unit
		MSG
	elif [ -d /run/systemd/system ]; then
		# Upgrade: a running platform restarts on the new binary (SIGTERM
		# drains requests; MOs and queued MTs are in the store). A schema
		# older than the build stops it with exit 2: run migrate, then start.
		systemctl try-restart "$unit" || true
	fi
	;;
esac
exit 0
