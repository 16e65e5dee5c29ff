#!/usr/bin/env bash
# Installs every Debian package phi3vk needs to build, test and fuzz.
# Used by the README's set-up command and by .ci/run. Run it as it is, as root
# or as a user: it asks sudo for root only when it has to install something
# and is not root (a root container has no sudo; tests/cli_quickstart.sh
# runs it both ways).
set -euo pipefail
pkgs=(
  cmake gcc make pkg-config
  libvulkan-dev glslc spirv-tools libvulkan-volk-dev
  mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  libcjson-dev libcurl4-openssl-dev
  clang libclang-rt-14-dev      # libFuzzer targets and LeakSanitizer runtime
  python3                       # the local test HTTP server for `phi3vk pull`
  libmicrohttpd-dev             # phi3vk serve
  curl nginx nodejs             # tests/serve: curl, nginx in front of replicas, the OpenAI JS client
)
# npm comes with NodeSource's nodejs; Debian's nodejs needs the npm package
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
SUDO=""
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: ${#missing[@]} package(s) missing (${missing[*]}): run this script as root, or install sudo" >&2
    exit 1
  fi
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}${SUDO:+ (with sudo)}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
