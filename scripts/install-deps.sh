#!/usr/bin/env bash
# Installs every Debian package phi3vk needs to build, test and fuzz.
# Used by the README's set-up command and by .ci/run. Needs root (or sudo).
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
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
