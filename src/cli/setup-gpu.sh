#!/usr/bin/env bash
# Run by `npm install` (postinstall) on Linux: the system packages that the runtime and `npm test` need.
#  1. A WebGPU adapter for Dawn: a Vulkan loader and driver. Debian 12's own Mesa (22.3) lavapipe is
#     rejected by Dawn; Mesa 25 from bookworm-backports works.
#  2. Chromium, for the browser demo's test (test/demo.e2e.test.ts): Debian's `chromium` package.
# Installs what is missing when run as root with apt-get; otherwise prints a warning with the exact
# commands and lets the install finish.
set -euo pipefail
if [ "$(uname -s)" != Linux ]; then exit 0; fi
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=0
apt_update() { [ "$apt_updated" = 1 ] || { apt-get update -qq; apt_updated=1; }; }

# ---- 1. Vulkan driver ----------------------------------------------------------------------------------
have_lavapipe() {
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || return 1
  local v; v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)
  dpkg --compare-versions "$v" ge 25 2>/dev/null
}
setup_vulkan() {
  if command -v nvidia-smi >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then return 0; fi
  if have_lavapipe && ldconfig -p | grep -q libvulkan.so.1; then echo "lavapipe (Mesa >= 25) present"; return 0; fi
  if ! can_apt; then
    cat >&2 <<'MSG'
WARNING: no usable Vulkan driver for Dawn was found. On Debian 12, as root:
  echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/backports.list
  apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1
(Debian's own Mesa 22.3 lavapipe is rejected by Dawn; Mesa >= 25 is needed.)
The install continues; until a driver is there, run-inference.js stops with this advice.
MSG
    return 0
  fi
  local uri
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || uri=http://deb.debian.org/debian
  echo "deb $uri bookworm-backports main" > /etc/apt/sources.list.d/fapool-backports.list
  echo "installing Mesa 25 lavapipe from bookworm-backports ($uri)"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
  have_lavapipe || { echo "lavapipe install failed" >&2; exit 1; }
  echo "lavapipe installed: $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
}

# ---- 2. Chromium (browser demo test) ------------------------------------------------------------------
chromium_path() { echo "${CHROMIUM_PATH:-/usr/bin/chromium}"; }
chromium_advice() {
  cat >&2 <<MSG
WARNING: no Chromium at $(chromium_path): the browser demo test (test/demo.e2e.test.ts) needs one. On Debian 12, as root:
  apt-get update && apt-get install -y --no-install-recommends chromium
(or set CHROMIUM_PATH to a Chromium or Chrome binary). The install continues; that test fails until then.
MSG
}
setup_chromium() {
  if [ -x "$(chromium_path)" ]; then echo "chromium present ($(chromium_path))"; return 0; fi
  if ! can_apt || [ -n "${CHROMIUM_PATH:-}" ]; then chromium_advice; return 0; fi
  echo "installing chromium (Debian) for the browser demo test"
  apt_update || { chromium_advice; return 0; }
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null || [ ! -x /usr/bin/chromium ]; then
    echo "chromium install failed" >&2
    chromium_advice
    return 0
  fi
  echo "chromium installed: $(dpkg-query -W -f='${Version}' chromium)"
}

setup_vulkan
setup_chromium
