#!/usr/bin/env bash
# Install the Debian packages the native stack and its tests need, only those that are missing.
#
#   scripts/install-system-deps.sh nginx            # `make run`
#   scripts/install-system-deps.sh chromium fonts   # `make test-e2e` (Debian chromium + CJK fonts)
#
# Runs apt-get as root (or through passwordless sudo). A freshly installed nginx is not started:
# the project runs its own nginx under supervisord, so the distribution's service on port 80 is
# kept from starting now and disabled at boot.
set -euo pipefail

have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }
have_chromium() { [ -x /usr/bin/chromium ]; }
have_shellcheck() { command -v shellcheck >/dev/null 2>&1; }
# initdb/pg_ctl for the tests' throw-away clusters (backend/tests/pg.py); the server the package
# may start itself is not used.
have_postgresql() { command -v pg_ctl >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; }
# A font with Chinese glyphs, so zh screenshots show text rather than empty boxes.
# `make image` without a Docker engine: podman (runc, not crun) and debootstrap for the local
# stand-ins of the base images (scripts/image.py); netavark and aardvark-dns give the separated
# layout's containers DNS names (podman's CNI default has none; tests/image/compose.py); netavark
# sets up every container network (a build's RUN steps too) with iptables, which Debian only
# suggests: without it each build fails with "netavark: No such file or directory".
have_podman() {
  command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 \
    && [ -x /usr/lib/podman/netavark ] && [ -x /usr/lib/podman/aardvark-dns ] && command -v iptables >/dev/null 2>&1
}
# The HTTPS test: Caddy in front of the native stack (e2e/test_https.py, caddy/Caddyfile).
have_caddy() { command -v caddy >/dev/null 2>&1; }
have_fonts() { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]; }

packages=()
new_nginx=0
for want in "$@"; do
  case "$want" in
    nginx) have_nginx || { packages+=(nginx); new_nginx=1; } ;;
    chromium) have_chromium || packages+=(chromium fonts-liberation) ;;
    fonts) have_fonts || packages+=(fonts-wqy-microhei fontconfig) ;;
    shellcheck) have_shellcheck || packages+=(shellcheck) ;;
    postgresql) have_postgresql || packages+=(postgresql) ;;
    podman) have_podman || packages+=(podman runc debootstrap netavark aardvark-dns iptables) ;;
    caddy) have_caddy || packages+=(caddy) ;;
    *) echo "install-system-deps: unknown component '$want' (nginx, chromium, fonts, shellcheck, postgresql, podman, caddy)" >&2; exit 2 ;;
  esac
done
[ ${#packages[@]} -eq 0 ] && exit 0

echo "==> installing system packages: ${packages[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: no apt-get here; install these yourself: ${packages[*]}" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install-system-deps: need root to run: apt-get install -y ${packages[*]}" >&2
  echo "  run that as root (or with sudo), then this command again." >&2
  exit 1
fi

# Keep package scripts from starting services (Debian's nginx would take port 80).
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# temporary, scripts/install-system-deps.sh\nexit 101\n' \
    | "${as_root[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${as_root[@]}" chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
cleanup() { if [ "$made_policy" -eq 1 ]; then "${as_root[@]}" rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
# Chromium gets its recommended packages too: that is the set known to run headless here.
recommends=(--no-install-recommends)
case " ${packages[*]} " in *" chromium "*) recommends=() ;; esac
"${as_root[@]}" apt-get install -y -q "${recommends[@]}" "${packages[@]}"

if [ "$new_nginx" -eq 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  "${as_root[@]}" systemctl disable --now nginx >/dev/null 2>&1 || true
  echo "==> the distribution's nginx service is disabled; the studio runs its own nginx"
fi
