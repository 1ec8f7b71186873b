#!/usr/bin/env bash
# Packs Mesa's device-select Vulkan layer for GPU machines that lack it (run on a Debian 12 machine with
# network to Debian's archive, as root if the bookworm-backports source must be added). Writes
# .device/device-select/: the layer .so, its manifest, the libraries it needs, and install.sh.
# On a multi-GPU host that layer is what makes DRI_PRIME pick the GPU of a worker process: a process binds
# one GPU, and Dawn returns the first of identical GPUs, so without it every process takes GPU 0.
#   bash src/cli/pack-device-select.sh            # → .device/device-select (≈2–3 MiB, git-ignored)
#   then on the GPU machine: bash .device/device-select/install.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/.device/device-select}
arch=x86_64-linux-gnu
libs=(libxcb1 libxcb-dri3-0 libxcb-present0 libxcb-randr0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libx11-6 libx11-xcb1
      libxau6 libxdmcp6 libwayland-client0 libdrm2 libffi8 libbsd0 libmd0 libxshmfence1)

# Mesa >= 25 comes from bookworm-backports (Debian 12's own 22.3 is what Dawn rejects for lavapipe too).
if ! apt-cache policy mesa-vulkan-drivers | grep -q 'bookworm-backports'; then
  [ "$(id -u)" = 0 ] || { echo "bookworm-backports is not an apt source here; run as root (it adds it) or add it yourself" >&2; exit 1; }
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  echo "deb ${uri:-http://deb.debian.org/debian} bookworm-backports main" > /etc/apt/sources.list.d/fapool-backports.list
  apt-get update -qq
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
sandbox=(); [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)  # _apt cannot write a mktemp dir
apt-get download -qq "${sandbox[@]}" mesa-vulkan-drivers/bookworm-backports "${libs[@]}"
for deb in ./*.deb; do dpkg-deb -x "$deb" tree; done

rm -rf "$out"
mkdir -p "$out"
cp tree/usr/lib/$arch/libVkLayer_MESA_device_select.so "$out/"
cp tree/usr/share/vulkan/implicit_layer.d/VkLayer_MESA_device_select.json "$out/"
# Only the runtime sonames (libxcb.so.1, ...), dereferenced: no dev symlinks, no other Mesa drivers.
for f in tree/usr/lib/$arch/*.so.* tree/lib/$arch/*.so.*; do
  [ -e "$f" ] || continue
  name=$(basename "$f")
  soname=$(objdump -p "$f" 2>/dev/null | awk '/SONAME/{print $2}' || true)
  if [ -z "$soname" ] || [ "$soname" = "$name" ]; then cp -L "$f" "$out/$name"; fi
done
strip --strip-unneeded "$out"/*.so* 2>/dev/null || true

cat > "$out/install.sh" <<'INSTALL'
#!/usr/bin/env bash
# Installs the packed device-select layer: the manifest (library_path made absolute) goes to the
# loader's implicit layer folder; the libraries stay here and must be on LD_LIBRARY_PATH of every
# fapool process (read at process start). Prints the export line; `eval "$(bash install.sh)"` applies it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${FAPOOL_LAYER_DIR:-/etc/vulkan/implicit_layer.d}
mkdir -p "$dest"
sed -E "s#\"library_path\"[[:space:]]*:[[:space:]]*\"[^\"]*\"#\"library_path\": \"$here/libVkLayer_MESA_device_select.so\"#" \
  "$here/VkLayer_MESA_device_select.json" > "$dest/VkLayer_MESA_device_select.json"
missing=$(LD_LIBRARY_PATH="$here${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$here/libVkLayer_MESA_device_select.so" | grep 'not found' || true)
if [ -n "$missing" ]; then echo "device-select layer: missing libraries:" >&2; echo "$missing" >&2; exit 1; fi
echo "device-select layer installed: $dest/VkLayer_MESA_device_select.json -> $here/libVkLayer_MESA_device_select.so" >&2
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=index,pci.bus_id --format=csv,noheader | sed 's/^/gpu: /' >&2
echo "export LD_LIBRARY_PATH=$here\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
INSTALL
chmod +x "$out/install.sh"
echo "packed $(ls "$out" | wc -l) files, $(du -sh "$out" | cut -f1), into $out"
