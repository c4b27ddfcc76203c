#!/bin/sh
# make bench: install what the benchmark needs beside Go, on Debian 12 —
# smstools3's smsd (package smstools) and gammu-smsd — only when missing.
# Their configuration in /etc is never used: the benchmark runs them with
# its own files in a temporary directory.
set -eu
missing=""
if ! command -v smsd >/dev/null 2>&1 && [ ! -x /usr/sbin/smsd ]; then
	missing="$missing smstools"
fi
if ! command -v gammu-smsd >/dev/null 2>&1 && [ ! -x /usr/bin/gammu-smsd ]; then
	missing="$missing gammu-smsd"
fi
[ -z "$missing" ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
echo "bench: installing$missing"
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends $missing
