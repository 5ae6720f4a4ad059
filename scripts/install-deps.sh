#!/usr/bin/env bash
# Install the Debian packages the build, the tests and the demo need, only
# when one is missing (a no-op on a prepared machine).
set -o errexit -o nounset -o pipefail

pkgs=(gcc make libcmocka-dev libpcap-dev iproute2 iputils-ping tshark
      iperf3 curl ethtool python3 tcpdump librsvg2-bin clang libclang-rt-14-dev
      valgrind linux-perf groff-base libbpf-dev bpftool libelf-dev zlib1g-dev
      qemu-system-x86 cpio)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]} (run as root to install)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo 'wireshark-common wireshark-common/install-setuid boolean false' |
	debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
