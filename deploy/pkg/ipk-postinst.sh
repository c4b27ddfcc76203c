#!/bin/sh
# bindpay-agent .ipk postinst (OpenWrt): the system user, the init script
# enabled at boot, the modem link for a modem already plugged in.
# IPKG_INSTROOT is the image's root when run by the image builder (nothing is
# running then), empty on a live device.
root="${IPKG_INSTROOT}"
user=bindpay

# free_id: the first id from 200 used by no user and no group.
free_id() {
	id=200
	while grep -q "^[^:]*:[^:]*:$id:" "$root/etc/passwd" "$root/etc/group" 2>/dev/null; do
		id=$((id + 1))
	done
	echo "$id"
}

grep -q '^dialout:' "$root/etc/group" || echo "dialout:x:20:" >>"$root/etc/group"
if ! grep -q "^$user:" "$root/etc/passwd"; then
	id=$(free_id)
	grep -q "^$user:" "$root/etc/group" || echo "$user:x:$id:" >>"$root/etc/group"
	gid=$(grep "^$user:" "$root/etc/group" | cut -d: -f3)
	echo "$user:x:$id:$gid:bindpay agent:/var/lib/bindpay:/bin/false" >>"$root/etc/passwd"
	[ -f "$root/etc/shadow" ] && echo "$user:*:0:0:99999:7:::" >>"$root/etc/shadow"
fi
# Add the user to dialout (members are the 4th field, comma-separated).
if ! grep '^dialout:' "$root/etc/group" | cut -d: -f4 | tr ',' '\n' | grep -qx "$user"; then
	sed -i -e "/^dialout:/ { s/:\$/:$user/; t" -e "s/\$/,$user/ }" "$root/etc/group"
fi

mkdir -p "$root/etc/rc.d"
ln -sf ../init.d/bindpay-agent "$root/etc/rc.d/S95bindpay-agent"
ln -sf ../init.d/bindpay-agent "$root/etc/rc.d/K10bindpay-agent"

if [ -z "$root" ]; then
	for t in /sys/class/tty/ttyUSB* /sys/class/tty/ttyACM*; do
		[ -e "$t" ] || continue
		devpath=$(cd "$t" && pwd -P)
		(ACTION=add DEVNAME=${t##*/} DEVPATH=${devpath#/sys} . /etc/hotplug.d/tty/30-bindpay-modem) || true
	done
	echo "bindpay-agent: set platform.url and sms.senders in /etc/bindpay/agent.toml, then: /etc/init.d/bindpay-agent start" >&2
fi
exit 0
