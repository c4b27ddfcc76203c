/etc/bindpay/
