#!/usr/bin/env bash
# kernel.sh DIR: Debian 12's kernel image (the one linux-image-amd64 of
# bookworm depends on, Linux 6.1) in DIR, fetched from Debian's archive
# unless it is there already, with the modules the kernel path needs in
# DIR/modules-VERSION; prints the image's path. Only the package is
# downloaded and unpacked here (apt-get download, dpkg-deb): nothing is
# installed on this machine.
set -o errexit -o nounset -o pipefail

dir=${1:?usage: kernel.sh DIR}
mkdir -p "$dir"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1\./ { print $2; exit }')
if [ -z "$pkg" ]; then
	echo "kernel.sh: linux-image-amd64 does not depend on a 6.1 kernel here" \
		"(not Debian 12, or apt's lists are missing: apt-get update)" >&2
	exit 1
fi
image=$dir/vmlinuz-${pkg#linux-image-}
mods=$dir/modules-${pkg#linux-image-}
if [ ! -s "$image" ] || [ ! -s "$mods/8021q.ko" ]; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/cn-kernel.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# apt's sandbox user may not write the folder; the download is a
	# signed archive's package either way.
	chmod 0777 "$tmp"
	if ! (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1); then
		apt-get update -qq
		(cd "$tmp" && apt-get download -q "$pkg" >/dev/null)
	fi
	# The image, and the modules a daemon's kernel path needs there
	# (veth for the test's ports, clsact, the BPF classifier; 802.1Q
	# devices and what they need, for VLAN-tagged frames).
	dpkg-deb --fsys-tarfile "$tmp"/"$pkg"_*.deb |
		tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' \
			'*/drivers/net/veth.ko' '*/net/sched/sch_ingress.ko' \
			'*/net/sched/cls_bpf.ko' '*/net/llc/llc.ko' '*/net/802/stp.ko' \
			'*/net/802/garp.ko' '*/net/802/mrp.ko' '*/net/8021q/8021q.ko'
	mkdir -p "$mods"
	find "$tmp/lib/modules" -name '*.ko' -exec cp {} "$mods/" \;
	mv "$tmp"/boot/vmlinuz-* "$image.tmp"
	mv "$image.tmp" "$image"
fi
echo "$image"
