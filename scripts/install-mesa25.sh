#!/usr/bin/env bash
# Installs Mesa 25.0's lavapipe (Debian bookworm-backports, Vulkan 1.4) into
# its own prefix beside the system driver, for the driver matrix
# (scripts/matrix.sh): nothing is installed system-wide and no apt source is
# added; the packages are downloaded with a private apt state and unpacked.
# Usage: install-mesa25.sh [PREFIX]   (default: build/mesa25)
# Prints the ICD file to put in VK_DRIVER_FILES; its library directory must
# be on LD_LIBRARY_PATH (for the backports libdrm it needs).
set -euo pipefail
prefix=$(realpath -m "${1:-build/mesa25}")
icd=$prefix/lvp_icd.json
if [ -f "$icd" ] && [ -f "$prefix/root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so" ]; then
  echo "$icd"; exit 0
fi
arch=$(dpkg --print-architecture)
mkdir -p "$prefix/apt/lists/partial" "$prefix/apt/cache/archives/partial" "$prefix/debs" "$prefix/root"
cat > "$prefix/apt/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
SRC
opts=(-q -o "Dir::Etc::SourceList=$prefix/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$prefix/apt/lists" -o "Dir::Cache=$prefix/apt/cache"
      -o "APT::Architecture=$arch" -o "Debug::NoLocking=1")
apt-get "${opts[@]}" update >&2
# lavapipe and the libdrm it was built against (libllvm15 is bookworm's own)
(cd "$prefix/debs" && apt-get "${opts[@]}" download mesa-vulkan-drivers libdrm2 libdrm-amdgpu1 >&2)
for deb in "$prefix"/debs/*.deb; do dpkg-deb -x "$deb" "$prefix/root"; done
lib=$prefix/root/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
[ -f "$lib/libvulkan_lvp.so" ] || { echo "install-mesa25: no libvulkan_lvp.so in $lib" >&2; exit 1; }
api=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ICD"]["api_version"])' \
      "$(ls "$prefix"/root/usr/share/vulkan/icd.d/lvp_icd*.json | head -n 1)")
cat > "$icd" <<JSON
{
    "ICD": {
        "api_version": "$api",
        "library_path": "$lib/libvulkan_lvp.so"
    },
    "file_format_version": "1.0.0"
}
JSON
echo "$icd"
