#!/bin/sh
# bindpay-agent .ipk prerm (OpenWrt): stop and disable on removal.
root="${IPKG_INSTROOT}"
[ "$1" = upgrade ] && exit 0
if [ -z "$root" ] && [ -x /etc/init.d/bindpay-agent ]; then
	/etc/init.d/bindpay-agent stop || true
fi
rm -f "$root/etc/rc.d/S95bindpay-agent" "$root/etc/rc.d/K10bindpay-agent"
exit 0
