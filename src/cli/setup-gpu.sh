#!/usr/bin/env bash
# Make sure a WebGPU adapter exists on Linux machines without a GPU: Dawn needs a Vulkan loader and
# a Vulkan driver; Debian 12's own Mesa (22.3) lavapipe is rejected by Dawn, Mesa 25 from
# bookworm-backports works. Installs it when run as root, otherwise prints what to install.
set -euo pipefail
have_lavapipe() {
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || return 1
  local v; v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)
  dpkg --compare-versions "$v" ge 25 2>/dev/null
}
if [ "$(uname -s)" != Linux ]; then exit 0; fi
if command -v nvidia-smi >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then exit 0; fi
if have_lavapipe && ldconfig -p | grep -q libvulkan.so.1; then echo "lavapipe (Mesa >= 25) present"; exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<'MSG'
WARNING: no usable Vulkan driver for Dawn was found. On Debian 12, as root:
  echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/backports.list
  apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1
(Debian's own Mesa 22.3 lavapipe is rejected by Dawn; Mesa >= 25 is needed.)
The install continues; until a driver is there, run-inference.js stops with this advice.
MSG
  exit 0
fi
uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || uri=http://deb.debian.org/debian
echo "deb $uri bookworm-backports main" > /etc/apt/sources.list.d/fapool-backports.list
echo "installing Mesa 25 lavapipe from bookworm-backports ($uri)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
have_lavapipe || { echo "lavapipe install failed" >&2; exit 1; }
echo "lavapipe installed: $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
