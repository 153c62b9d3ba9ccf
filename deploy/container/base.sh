#!/usr/bin/env bash
# The offline base image of `make container`: a Debian bookworm root from Debian's packages
# (debootstrap --variant=minbase) with Python 3.11, what the Bento's system_packages name, and uv, imported into
# podman. Tagged by a digest of this recipe, so it is built once per recipe. Prints the image name.
#   deploy/container/base.sh [IMAGE_REPO]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="${1:-localhost/ocrops-base}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Python 3.11 (the Bento's python_version), the bentofile's system_packages, CA certificates for the user's
# own HTTPS calls; curl for health checks from inside the container
packages="python3.11,ca-certificates,libglib2.0-0,fonts-dejavu-core,curl"
uv_version="0.13.9"
tag="$(cat "$0" "$here/containers.conf" | sha256sum | cut -c1-12)"
image="$repo:$tag"
if podman image exists "$image"; then echo "$image"; exit 0; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "base image $image: debootstrap bookworm ($packages)" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$work/root" "$mirror" >&2
# uv installs the Bento's packages (BentoML's Dockerfile uses it when present): its wheel holds one binary
python3 -m pip download --quiet --no-deps --only-binary=:all: --platform "manylinux_2_17_$(uname -m)" \
    --python-version 3.11 "uv==$uv_version" -d "$work/uv" >&2
python3 -m zipfile -e "$work"/uv/uv-*.whl "$work/uv/x"
install -m 0755 "$work"/uv/x/uv-*.data/scripts/uv "$work/root/usr/local/bin/uv"
rm -rf "$work"/root/var/cache/apt/archives/*.deb "$work"/root/var/lib/apt/lists/* "$work"/root/usr/share/doc \
    "$work"/root/usr/share/man "$work"/root/usr/share/locale "$work"/root/debootstrap
echo "$image" > "$work/root/etc/ocrops-base"  # the Dockerfile template skips apt-get on this base
# the Bento's packages come from a wheel folder mounted at /wheels during the build, never from an index
mkdir -p "$work/root/etc/uv"
printf '[pip]\nno-index = true\nfind-links = ["/wheels"]\n' > "$work/root/etc/uv/uv.toml"
tar -C "$work/root" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$image" >&2
echo "$image"
