#!/usr/bin/env bash
# Installs what npm run test:pods needs, if missing (as root, from Debian).
set -euo pipefail
need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || need+=(busybox-static)
# iqqq inject's scenarios: the iqqq image (patchelf), a real registry, a musl-only job image, a test CA.
command -v patchelf >/dev/null || need+=(patchelf)
command -v docker-registry >/dev/null || need+=(docker-registry)
[ -e /lib/ld-musl-x86_64.so.1 ] || [ -e /lib/ld-musl-aarch64.so.1 ] || need+=(musl)
command -v openssl >/dev/null || need+=(openssl)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "test:pods needs: ${need[*]} (run as root to install them)" >&2; exit 0; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
