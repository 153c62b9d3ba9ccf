#!/usr/bin/env bash
# `make container`: the Bento's image with podman, offline. The base comes from base.sh; the Bento's locked
# packages are downloaded here (hash-checked, with this machine's pip settings) into a wheel folder that the
# build mounts at /wheels, so the build itself needs no index and no network.
#   deploy/container/build.sh [BENTO_TAG]   (default: the package stage's, outputs/package/bento.json)
# Prints the image name; BENTOML_HOME must be the store that holds the Bento.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="$here/containers.conf"
bento="${1:-$(python3 -c 'import json; print(json.load(open("outputs/package/bento.json"))["bento"])')}"
base="$("$here/base.sh")"
bento_dir="$(bentoml get "$bento" -o path)"
wheels="${OCROPS_WHEELS:-$PWD/.cache/container/wheels}"
mkdir -p "$wheels"
python3 -m pip download --quiet --require-hashes --only-binary=:all: -d "$wheels" \
    -r "$bento_dir/env/python/requirements.txt" >&2
name="${bento%%:*}"
version="${bento#*:}"
# BentoML 1.4.39 reads a dockerfile_template only from below the working directory, and containerize copies the
# Bento to a temporary folder first: run it from the temporary folders' root
cd "$(python3 -c 'import tempfile; print(tempfile.gettempdir())')"
bentoml containerize "$bento" --backend podman -t "$name:$version" -t "$name:latest" \
    --opt network=none --opt "volume=$wheels:/wheels:ro" --opt "build-arg=BASE_IMAGE=$base" >&2
echo "localhost/$name:$version"
