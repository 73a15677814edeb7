#!/usr/bin/env bash
# The mlcycle VM's startup script (deploy/gcp/vm.sh attaches it; Compute Engine runs it as
# root at every boot): installs Docker and Compose from Debian's own packages, fetches the
# project's images and starts the stack `docker compose up` gives locally, on the project's
# bucket instead of a volume. Safe to run again: what is installed stays, compose recreates
# only what changed.
#
# Settings: each from the environment when set, else from the VM's metadata (vm.sh sets it):
#   MLCYCLE_ROOT       gs://BUCKET/PREFIX, the root every service reads (attribute mlcycle-root)
#   MLCYCLE_IMAGES     where the images come from (attribute mlcycle-images): an Artifact
#                      Registry repository, REGION-docker.pkg.dev/PROJECT/REPOSITORY, pulled
#                      with the VM account's token; or `localhost`: the images are already in
#                      the engine as localhost/mlcycle-{pipeline,api,ui}:TAG (the container
#                      tier's), nothing is pulled
#   MLCYCLE_IMAGE_TAG  the images' tag (attribute mlcycle-image-tag; default latest)
#   MLCYCLE_PUBLIC     true: also serve on every interface, vm-public.yml (attribute
#                      mlcycle-public; default false: 127.0.0.1 only, reached by SSH tunnel)
#   MLCYCLE_SOURCE     a checkout to take docker-compose.yml and deploy/gcp/vm-*.yml from;
#                      default: the copies vm.sh put in the metadata (attributes
#                      mlcycle-compose, mlcycle-compose-vm, mlcycle-compose-public)
#   MLCYCLE_HOME       where the compose files and their .env go (default /opt/mlcycle)
#   COMPOSE_PROJECT_NAME (default mlcycle), MLCYCLE_API_PORT (8080), MLCYCLE_UI_PORT (8081)
set -euo pipefail

say() { printf '== %s\n' "$*"; }

say "Docker and Compose from Debian's packages"
if ! command -v docker >/dev/null || ! command -v docker-compose >/dev/null || ! command -v curl >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose curl >/dev/null
fi
# On the VM Debian's package enables and starts the engine; a container that borrows another
# engine's socket (the container tier) has no systemd, and nothing to start.
if [[ -d /run/systemd/system ]]; then
  systemctl enable --now docker.service
fi
for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
docker info >/dev/null || { echo "the Docker engine does not answer" >&2; exit 1; }
# Debian 12's docker-compose is Compose 1.29; Compose 2 (`docker compose`) is used if present.
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  compose=(docker-compose)
fi
echo "$(docker --version); $("${compose[@]}" version --short)"

metadata() {
  curl -sf --max-time 5 -H 'Metadata-Flavor: Google' \
    "http://metadata.google.internal/computeMetadata/v1/$1"
}
# NAME ATTRIBUTE DEFAULT: the environment's value, else the metadata attribute (if any),
# else DEFAULT.
setting() {
  local value=${!1:-}
  if [[ -z $value && -n $2 ]]; then
    value=$(metadata "instance/attributes/$2" 2>/dev/null) || value=""
  fi
  value=${value:-$3}
  [[ -n $value ]] || { echo "$1 is not set, nor metadata attribute $2" >&2; exit 2; }
  printf -v "$1" '%s' "$value"
}
setting MLCYCLE_ROOT mlcycle-root ""
setting MLCYCLE_IMAGES mlcycle-images ""
setting MLCYCLE_IMAGE_TAG mlcycle-image-tag latest
setting MLCYCLE_PUBLIC mlcycle-public false
setting MLCYCLE_HOME "" /opt/mlcycle
setting COMPOSE_PROJECT_NAME "" mlcycle
setting MLCYCLE_API_PORT "" 8080
setting MLCYCLE_UI_PORT "" 8081

say "Compose files in $MLCYCLE_HOME (the repository's docker-compose.yml and deploy/gcp/vm-*.yml)"
mkdir -p "$MLCYCLE_HOME"
cd "$MLCYCLE_HOME"
# ATTRIBUTE PATH-IN-THE-REPOSITORY DESTINATION
fetch() {
  if [[ -n ${MLCYCLE_SOURCE:-} ]]; then
    cp "$MLCYCLE_SOURCE/$2" "$3"
  else
    metadata "instance/attributes/$1" >"$3" || { echo "no metadata attribute $1" >&2; exit 2; }
  fi
}
fetch mlcycle-compose docker-compose.yml docker-compose.yml
fetch mlcycle-compose-vm deploy/gcp/vm-compose.yml vm-compose.yml
files=docker-compose.yml:vm-compose.yml
if [[ $MLCYCLE_PUBLIC == true ]]; then
  fetch mlcycle-compose-public deploy/gcp/vm-public.yml vm-public.yml
  files+=:vm-public.yml
fi
# Compose 1.29 predates the top-level `name` key and refuses a file that has one; the
# project's name comes from COMPOSE_PROJECT_NAME instead.
if [[ $("${compose[@]}" version --short) == 1.* ]]; then
  sed -i '/^name:/d' docker-compose.yml
fi
# Compose reads .env from this folder: `cd /opt/mlcycle && sudo docker-compose ps` (or
# `run --rm pipeline run`, `logs -f api`) works here with no flags.
cat >.env <<EOF
COMPOSE_PROJECT_NAME=$COMPOSE_PROJECT_NAME
COMPOSE_FILE=$files
MLCYCLE_ROOT=$MLCYCLE_ROOT
MLCYCLE_IMAGES=$MLCYCLE_IMAGES
MLCYCLE_IMAGE_TAG=$MLCYCLE_IMAGE_TAG
MLCYCLE_API_PORT=$MLCYCLE_API_PORT
MLCYCLE_UI_PORT=$MLCYCLE_UI_PORT
EOF
export COMPOSE_PROJECT_NAME COMPOSE_FILE=$files MLCYCLE_ROOT MLCYCLE_IMAGES MLCYCLE_IMAGE_TAG \
  MLCYCLE_API_PORT MLCYCLE_UI_PORT

if [[ $MLCYCLE_IMAGES == localhost ]]; then
  say "Images: localhost/mlcycle-*:$MLCYCLE_IMAGE_TAG, already in the engine"
else
  say "Images: $MLCYCLE_IMAGES/mlcycle-*:$MLCYCLE_IMAGE_TAG, as the VM's service account"
  # The metadata server's access token (scope cloud-platform), valid for an hour: enough to
  # pull; the next boot logs in again.
  metadata instance/service-accounts/default/token |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' |
    docker login --username oauth2accesstoken --password-stdin "https://${MLCYCLE_IMAGES%%/*}"
  "${compose[@]}" pull --quiet
fi

# `mlcycle ...` on the VM: the pipeline image's CLI with the stack's settings (the bucket as
# root, the VM's account), e.g. `mlcycle run`, `mlcycle submit ...`, `mlcycle models`.
cat >/usr/local/bin/mlcycle <<EOF
#!/bin/sh
# Written by mlcycle's startup script: the CLI of the pipeline image, run by compose.
[ "\$(id -u)" = 0 ] || exec sudo "\$0" "\$@"
cd $MLCYCLE_HOME || exit 1
if [ -t 0 ]; then tty=""; else tty=-T; fi
exec ${compose[*]} run --rm \$tty pipeline "\$@"
EOF
chmod 755 /usr/local/bin/mlcycle

say "Starting the stack: train (one-shot pipeline run on $MLCYCLE_ROOT), then the API and the UI"
"${compose[@]}" up --detach --no-build
api=http://127.0.0.1:$MLCYCLE_API_PORT
for _ in $(seq 60); do curl -sf --max-time 2 "$api/readyz" >/dev/null && break; sleep 2; done
if ! curl -sf --max-time 2 "$api/readyz"; then
  "${compose[@]}" ps >&2
  "${compose[@]}" logs --tail 40 >&2
  echo "the API does not answer on $api/readyz" >&2
  exit 1
fi
zone=$(metadata instance/zone 2>/dev/null) || zone=ZONE
echo
cat <<EOF
mlcycle is up on this VM: API $api (docs: $api/docs), UI http://127.0.0.1:$MLCYCLE_UI_PORT,
data and models in $MLCYCLE_ROOT. From your machine, through IAP:
  gcloud compute ssh $(hostname) --zone ${zone##*/} --tunnel-through-iap -- -N -L 8081:127.0.0.1:$MLCYCLE_UI_PORT -L 8080:127.0.0.1:$MLCYCLE_API_PORT
then open http://127.0.0.1:8081. On the VM: mlcycle models, mlcycle run, ...;
cd $MLCYCLE_HOME && sudo docker-compose ps (or logs -f api)
EOF
