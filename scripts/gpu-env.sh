# Sourced by the test and bench scripts: makes WebGPU reachable on a CPU-only Debian machine.
# Installs Debian's chromium (for its SwiftShader Vulkan driver, and for the end-to-end tests) and libvulkan1 when
# missing, if we are root on Debian; otherwise says what to install.
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libvulkan.so.1 ] || need+=(libvulkan1)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing ${need[*]} from Debian's packages (needed for WebGPU on this machine)..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" fonts-dejavu-core >/dev/null \
      || { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
  else
    echo "Missing: ${need[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${need[*]}) and run the tests again." >&2
    echo "Without root or apt-get this script cannot install them itself." >&2
    exit 1
  fi
fi
# Dawn (the `webgpu` npm package) needs a Vulkan driver; with no GPU, use the SwiftShader that chromium ships.
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then
  export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
fi
export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
