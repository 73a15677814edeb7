#!/usr/bin/env bash
# The container tier's base image, made here without pulling from any registry: a Debian
# bookworm root file system (debootstrap, from the Debian mirror apt already uses) with
# Python 3.11, imported into podman as $MLCYCLE_BASE_IMAGE. The Dockerfile takes it through
# --build-arg PYTHON_IMAGE; users' builds keep the official slim Python image.
#
# The host's CA bundle goes in too: TLS to the package registries may pass an intercepting
# proxy that only the host's bundle trusts. Skipped when the image exists.
set -euo pipefail
source "$(dirname "$0")/env.sh"
image=${MLCYCLE_BASE_IMAGE:-localhost/mlcycle-base:bookworm}

if podman image exists "$image"; then
  echo "base image $image exists"
  exit 0
fi

# The mirror apt is configured with (deb822 .sources or one-line sources.list).
mirror=$(grep -rhoE '^URIs: *\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' |
  grep -v security | head -n 1 || true)
[[ -n $mirror ]] || mirror=$(grep -rhoE '^deb +\S+' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
  awk '{print $2}' | grep -v security | head -n 1 || true)
[[ -n $mirror ]] || { echo "no Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }

rootfs=$(mktemp -d /var/tmp/mlcycle-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm with python3 into $rootfs (~90 s)"
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
  bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
ln -sf python3 "$rootfs/usr/bin/python"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

tar -C "$rootfs" -c . | podman import --quiet \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$image" >/dev/null
echo "base image $image: $(podman image inspect "$image" --format '{{.Size}}' | numfmt --to=iec)"
