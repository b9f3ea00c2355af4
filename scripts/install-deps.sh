#!/usr/bin/env bash
# Installs what Callpop's build, tests and demo need, skipping whatever is already present.
# Idempotent: safe to run on every `make test`. Debian packages via apt-get (directly as root,
# through sudo otherwise), npm packages from the lock files, cargo tools with `cargo install`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'deps: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

# --- Debian packages -------------------------------------------------------------------
# Each entry is "package[:command-or-file-that-proves-it-is-there]".
debian_packages=(
  "pkg-config:pkg-config"
  "libdbus-1-dev:/usr/include/dbus-1.0/dbus/dbus.h"   # keyring's Secret Service backend
  "nodejs:node"                                        # jsforce conformance test
  "npm:npm"
  "sip-tester:sipp"                                    # SIP peer for crates/sip tests
  "baresip:baresip"                                    # second, independent SIP user agent (tests)
  "kamailio:kamailio"                                  # real registrar/proxy (tests)
  "dnsmasq-base:/usr/sbin/dnsmasq"                     # a loopback DNS server with SRV records (SIP DNS tests)
  "kamailio-tls-modules:/etc/kamailio/tls.cfg"         # kamailio's TLS listener (SIP over TLS tests)
  "ca-certificates:/etc/ssl/certs/ca-certificates.crt" # the system CAs SIP over TLS trusts (read by rustls-native-certs; a sip unit test counts them)
  "libasound2-dev:/usr/include/alsa/asoundlib.h"       # cpal's ALSA backend (audio devices)
  "libwebkit2gtk-4.1-dev:/usr/include/webkitgtk-4.1"   # Tauri 2 webview on Linux
  "librsvg2-dev:/usr/include/librsvg-2.0"              # Tauri icons
  "libayatana-appindicator3-dev:/usr/include/libayatana-appindicator3-0.1"  # tray icon
  "libxdo-dev:/usr/include/xdo.h"                      # Tauri menus on X11
  "xvfb:Xvfb"                                          # a display for window tests and the headless demo
  "xauth:xauth"
  "webkit2gtk-driver:WebKitWebDriver"                  # WebDriver for the real-window tests
  "imagemagick:/usr/bin/import"                        # screen grabs of the test windows (a stand-in `convert` may be on PATH without it)
  "file:file"
  "dbus-daemon:dbus-daemon"                            # a private session bus for the window tests (single instance, deep links)
  "fonts-noto-cjk:/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"  # Japanese and Korean text in the windows (tofu boxes without it)
)

missing=()
for entry in "${debian_packages[@]}"; do
  pkg=${entry%%:*}
  probe=${entry#*:}
  if [[ "$probe" == /* ]]; then
    [ -e "$probe" ] && continue
  else
    command -v "$probe" >/dev/null 2>&1 && continue
  fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' && continue
  missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- cargo tools -----------------------------------------------------------------------
if ! command -v cargo-nextest >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  log "installing cargo-fuzz"                          # make fuzz-smoke (crates/sip/fuzz)
  cargo install --locked cargo-fuzz
fi
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  log "installing tauri-driver"                        # WebDriver front for the window tests
  cargo install --locked tauri-driver
fi

# --- npm packages (per folder with a package-lock.json) -------------------------------
for lock in $(git ls-files '*package-lock.json' 2>/dev/null || true); do
  dir=$(dirname "$lock")
  stamp="$dir/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$lock" ]; then continue; fi
  log "npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
done
