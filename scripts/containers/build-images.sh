#!/usr/bin/env bash
# Build the pipeline, api and ui images from the real Dockerfile on the local base image,
# each tagged by a hash of what goes into it (the Dockerfile, the lock, the package's files,
# the base image), so that an unchanged image is not rebuilt.
#
#   scripts/containers/build-images.sh [TARGET...]      (default: pipeline api ui)
#
# Writes build/containers/images.json: per target its tag, whether it was built now, the
# build's seconds and the image's size. The tests and bench/results/containers.json read it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$MLCYCLE_CONTAINERS_DIR/../.."
base=${MLCYCLE_BASE_IMAGE:-localhost/mlcycle-base:bookworm}
targets=("$@")
((${#targets[@]})) || targets=(pipeline api ui)
out=build/containers
mkdir -p "$out"

# What the build context holds (.dockerignore sends only these), by content.
inputs_hash() {
  {
    echo "target=$1 base=$(podman image inspect --format '{{.Id}}' "$base")"
    find Dockerfile pyproject.toml constraints.txt README.md src configs -type f \
      ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*.egg-info/*' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-12
}

entries=()
for target in "${targets[@]}"; do
  repo=localhost/mlcycle-$target
  tag=$repo:$(inputs_hash "$target")
  built=false seconds=0
  if ! podman image exists "$tag"; then
    echo "building $tag"
    started=$(date +%s.%N)
    podman build --quiet --target "$target" --build-arg "PYTHON_IMAGE=$base" \
      --tag "$tag" --tag "$repo:local" . >"$out/build-$target.log" 2>&1 ||
      { tail -n 40 "$out/build-$target.log" >&2; echo "podman build --target $target failed; log: $out/build-$target.log" >&2; exit 1; }
    seconds=$(echo "$(date +%s.%N) - $started" | bc)
    built=true
    # Older builds of this target are only disk now.
    podman images --format '{{.Repository}}:{{.Tag}}' "$repo" | grep -vxF -e "$tag" -e "$repo:local" |
      xargs -r podman rmi --force >/dev/null 2>&1 || true
  else
    podman tag "$tag" "$repo:local"
    echo "$tag is current"
  fi
  size=$(podman image inspect --format '{{.Size}}' "$tag")
  entries+=("\"$target\": {\"image\": \"$tag\", \"built\": $built, \"build_seconds\": $seconds, \"size_bytes\": $size}")
done
podman image prune --force >/dev/null 2>&1 || true
# Merged into what earlier builds recorded, so that building one target keeps the others.
(IFS=,; echo "{${entries[*]}}") | python3 -c '
import json, pathlib, sys
path = pathlib.Path(sys.argv[1])
found = json.loads(path.read_text()) if path.exists() else {}
found.update(json.load(sys.stdin))
path.write_text(json.dumps(found, indent=2) + "\n")
print(path.read_text(), end="")' "$out/images.json"
