#!/usr/bin/env bash
# scripts/package.sh [OUT]
# Builds a server that runs on a machine without Swift: the host and every plugin linked with the
# Swift standard library statically (each keeps its runtime to itself: the plugins export only their
# entry point), so only Debian runtime packages are needed (libluajit-5.1-2, libssl3, libuv1). Into
# OUT (default dist/) it writes:
#   monaserver-VERSION/                 the server folder (executable, plugins, MonaServer.ini, www/)
#   monaserver-VERSION-linux-ARCH.tar.gz that folder, to unpack and run anywhere
#   monaserver_VERSION_ARCH.deb          a Debian package: /usr/lib/monaserver (executable and plugins),
#                                        /etc/monaserver/MonaServer.ini, /var/lib/monaserver/www (the
#                                        applications, copied from /usr/share/monaserver/www at the first
#                                        install and the operator's after; data/ and logs/ beside it), a
#                                        systemd unit running as the monaserver user, allowed to bind ports
#                                        below 1024.
# scripts/check-package.sh installs the .deb in a clean Debian root and runs it there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/dist}
SCRATCH=$ROOT/.build-static
cd "$ROOT"
"$ROOT/scripts/setup.sh"
command -v dpkg-deb >/dev/null || { echo "package: dpkg-deb is missing (apt-get install -y dpkg)" >&2; exit 1; }

# --static-swift-stdlib links the executable statically, -static-stdlib the plugin libraries.
swift build -c release --static-swift-stdlib -Xswiftc -static-stdlib --scratch-path "$SCRATCH"
BIN=$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)
for library in "$BIN"/libMona*.so "$BIN/MonaServer"; do
    if ldd "$library" | grep -q libswift; then
        echo "package: $library still needs the Swift runtime:" >&2
        ldd "$library" | grep libswift >&2
        exit 1
    fi
done

VERSION=$("$BIN/MonaServer" --version | awk '{ print $2 }')
ARCH=$(dpkg --print-architecture)
NAME=monaserver-$VERSION
mkdir -p "$OUT"
rm -rf "${OUT:?}/$NAME"
"$ROOT/scripts/assemble.sh" "$BIN" "$OUT/$NAME"
tar -C "$OUT" -czf "$OUT/$NAME-linux-$ARCH.tar.gz" "$NAME"

# The Debian package, laid out in a staging root.
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
install -d "$STAGE/DEBIAN" "$STAGE/usr/lib/monaserver" "$STAGE/etc/monaserver" "$STAGE/var/lib/monaserver" \
    "$STAGE/lib/systemd/system" "$STAGE/usr/share/doc/monaserver" "$STAGE/usr/share/monaserver"
install -m 0755 "$BIN/MonaServer" "$STAGE/usr/lib/monaserver/"
install -m 0644 "$BIN"/libMona*.so "$STAGE/usr/lib/monaserver/"
install -m 0644 "$ROOT/MonaServer.ini" "$STAGE/etc/monaserver/MonaServer.ini"
cp -R "$ROOT/www" "$STAGE/usr/share/monaserver/www"
install -m 0644 "$ROOT/README.md" "$STAGE/usr/share/doc/monaserver/README.md"
cat >"$STAGE/lib/systemd/system/monaserver.service" <<'EOF'
[Unit]
Description=MonaServer (RTMFP, RTMP, HTTP, WebSocket, RTSP) scripted in Lua
After=network-online.target
Wants=network-online.target

[Service]
User=monaserver
Group=monaserver
ExecStart=/usr/lib/monaserver/MonaServer --ini=/etc/monaserver/MonaServer.ini --dir=/var/lib/monaserver
Restart=on-failure
AmbientCapabilities=CAP_NET_BIND_SERVICE
LimitNOFILE=65536
NoNewPrivileges=true

[Install]
WantedBy=multi-user.target
EOF
cat >"$STAGE/DEBIAN/control" <<EOF
Package: monaserver
Version: $VERSION
Architecture: $ARCH
Maintainer: MonaServer in Swift <maintainers@monaserver.invalid>
Depends: libluajit-5.1-2, libssl3, libuv1, libstdc++6, adduser
Section: net
Priority: optional
Installed-Size: $(du -sk "$STAGE" | cut -f1)
Description: real-time server scripted in Lua (RTMFP, RTMP, HTTP, WebSocket, RTSP)
 A drop-in successor of MonaServer: Lua applications in /var/lib/monaserver/www,
 the configuration in /etc/monaserver/MonaServer.ini, one systemd service.
EOF
echo "/etc/monaserver/MonaServer.ini" >"$STAGE/DEBIAN/conffiles"
cat >"$STAGE/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if ! getent passwd monaserver >/dev/null; then
        adduser --system --group --home /var/lib/monaserver --no-create-home monaserver
    fi
    # The sample applications, once: afterwards www/ is the operator's.
    [ -e /var/lib/monaserver/www ] || cp -R /usr/share/monaserver/www /var/lib/monaserver/www
    chown -R monaserver:monaserver /var/lib/monaserver
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl enable --now monaserver.service || true
    fi
fi
EOF
cat >"$STAGE/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl disable --now monaserver.service || true
fi
EOF
cat >"$STAGE/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
if [ "$1" = purge ]; then
    rm -rf /var/lib/monaserver
    if getent passwd monaserver >/dev/null; then deluser --system monaserver || true; fi
fi
EOF
chmod 0755 "$STAGE/DEBIAN/postinst" "$STAGE/DEBIAN/prerm" "$STAGE/DEBIAN/postrm"
dpkg-deb --root-owner-group --build "$STAGE" "$OUT/monaserver_${VERSION}_$ARCH.deb" >/dev/null
echo "package: $OUT/$NAME, $OUT/$NAME-linux-$ARCH.tar.gz and $OUT/monaserver_${VERSION}_$ARCH.deb"
