#!/bin/sh
# build-deb.sh VERSION BINARY OUTDIR: builds OUTDIR/callvault_VERSION_amd64.deb
# with dpkg-deb from the files in this directory.
set -eu
version=$1 bin=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
# Debian versions must start with a digit.
case "$version" in [0-9]*) ;; *) version="0.0.0~$version" ;; esac
version=$(printf %s "$version" | tr -c 'A-Za-z0-9.+~\n-' '~')
root=$(mktemp -d)
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$bin" "$root/usr/bin/callvault"
install -D -m 0644 "$here/callvault.service" "$root/usr/lib/systemd/system/callvault.service"
install -D -m 0640 "$here/callvault.toml" "$root/etc/callvault/callvault.toml"
if [ -f "$here/../README.md" ]; then
	install -D -m 0644 "$here/../README.md" "$root/usr/share/doc/callvault/README.md"
fi
install -d "$root/DEBIAN"
for s in postinst prerm postrm; do install -m 0755 "$here/$s" "$root/DEBIAN/$s"; done
echo /etc/callvault/callvault.toml >"$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CTRL
Package: callvault
Version: $version
Architecture: amd64
Maintainer: callvault maintainers <root@localhost>
Installed-Size: $size
Depends: passwd
Section: net
Priority: optional
Description: on-prem call-recording appliance
 Deskphones, softphones and gateways stream each call as a PCAP over HTTP
 PUT; callvault keeps them as an encrypted, sealed, searchable archive
 with faithful stereo WAV playback.
CTRL
mkdir -p "$out"
deb="$out/callvault_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
