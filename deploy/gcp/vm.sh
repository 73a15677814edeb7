#!/usr/bin/env bash
# A working VM for mlcycle: a small Compute Engine VM with Docker that runs the stack
# `docker compose up` gives locally (train, API, UI) on the project's bucket, and from which
# to run the pipeline (`mlcycle run`, `mlcycle submit`). Run deploy/gcp/bootstrap.sh first:
# it makes the bucket, the image repository and the pipeline account the VM runs as, and
# the first push to main puts the images there.
#
#   deploy/gcp/vm.sh PROJECT ZONE [--dry-run] [--public] [--name NAME] [--tag TAG]
#                    [--machine-type TYPE] [--disk-size GB]
#
#   --machine-type  default e2-standard-2 (2 vCPU, 8 GB)      --disk-size  default 30 (GB)
#   --name          default mlcycle-vm
#   --tag           the images' tag (default: the newest mlcycle-ui image's, a main build)
#   --public        also serve the UI on port 80 and the API on 8000 of an external address
#                   (plain HTTP; PUBLIC_RANGES, default 0.0.0.0/0). Default: no external
#                   address, reached through an IAP tunnel only
# Optional environment, as for bootstrap.sh: BUCKET, PREFIX, REPOSITORY; REGION (default:
# the zone's) is where the repository is.
#
# Idempotent: a resource is created only when missing; run again with another --tag to
# update a VM's settings (applied at its next boot). --dry-run prints every command.
set -euo pipefail

usage() {
  sed -n '2,21s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

dry_run=false public=false
NAME=mlcycle-vm MACHINE_TYPE=e2-standard-2 DISK_SIZE=30 TAG=""
args=()
while (($#)); do
  case $1 in
    --dry-run) dry_run=true ;;
    --public) public=true ;;
    --name | --tag | --machine-type | --disk-size)
      [[ $# -ge 2 && $2 != -* ]] || { echo "$1 takes a value" >&2; usage; }
      case $1 in
        --name) NAME=$2 ;;
        --tag) TAG=$2 ;;
        --machine-type) MACHINE_TYPE=$2 ;;
        --disk-size) DISK_SIZE=$2 ;;
      esac
      shift
      ;;
    -h | --help) usage ;;
    -*) echo "unknown option: $1" >&2; usage ;;
    *) args+=("$1") ;;
  esac
  shift
done
[[ ${#args[@]} -eq 2 ]] || usage
PROJECT=${args[0]}
ZONE=${args[1]}
[[ $ZONE =~ ^[a-z]+-[a-z]+[0-9]+-[a-z]$ ]] || { echo "not a zone: $ZONE (e.g. europe-west1-b)" >&2; usage; }
[[ $DISK_SIZE =~ ^[0-9]+$ ]] || { echo "--disk-size takes a number of GB: $DISK_SIZE" >&2; usage; }
REGION=${REGION:-${ZONE%-*}}
BUCKET=${BUCKET:-${PROJECT}-mlcycle}
PREFIX=${PREFIX:-mlcycle}
REPOSITORY=${REPOSITORY:-mlcycle}
PUBLIC_RANGES=${PUBLIC_RANGES:-0.0.0.0/0}

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PIPELINE_SA=mlcycle-pipeline@${PROJECT}.iam.gserviceaccount.com # made by bootstrap.sh
IMAGES=${REGION}-docker.pkg.dev/${PROJECT}/${REPOSITORY}
NETWORK=mlcycle SUBNET=mlcycle-vm ROUTER=mlcycle-router NAT=mlcycle-nat
IAP_RANGE=35.235.240.0/20 # where IAP's TCP forwarding connects from

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh" # say, run, exists, value_of (they read $dry_run)

say "APIs (Compute Engine, IAP for the SSH tunnel)"
run gcloud services enable --project "$PROJECT" compute.googleapis.com iap.googleapis.com

say "Network $NETWORK: no route in but SSH from IAP; out through Cloud NAT (Debian's packages)"
exists gcloud compute networks describe "$NETWORK" --project "$PROJECT" ||
  run gcloud compute networks create "$NETWORK" --project "$PROJECT" --subnet-mode custom
# Private Google Access: the images and the bucket are reached without an external address.
exists gcloud compute networks subnets describe "$SUBNET" --project "$PROJECT" --region "$REGION" ||
  run gcloud compute networks subnets create "$SUBNET" --project "$PROJECT" --region "$REGION" \
    --network "$NETWORK" --range 10.20.0.0/24 --enable-private-ip-google-access
exists gcloud compute firewall-rules describe mlcycle-allow-iap-ssh --project "$PROJECT" ||
  run gcloud compute firewall-rules create mlcycle-allow-iap-ssh --project "$PROJECT" \
    --network "$NETWORK" --direction INGRESS --action allow --rules tcp:22 \
    --source-ranges "$IAP_RANGE" --target-tags mlcycle-vm
exists gcloud compute routers describe "$ROUTER" --project "$PROJECT" --region "$REGION" ||
  run gcloud compute routers create "$ROUTER" --project "$PROJECT" --region "$REGION" \
    --network "$NETWORK"
exists gcloud compute routers nats describe "$NAT" --project "$PROJECT" --region "$REGION" \
  --router "$ROUTER" ||
  run gcloud compute routers nats create "$NAT" --project "$PROJECT" --region "$REGION" \
    --router "$ROUTER" --auto-allocate-nat-external-ips --nat-all-subnet-ip-ranges
tags=mlcycle-vm
if $public; then
  tags+=,mlcycle-public
  # The ports vm-public.yml publishes.
  exists gcloud compute firewall-rules describe mlcycle-allow-public-web --project "$PROJECT" ||
    run gcloud compute firewall-rules create mlcycle-allow-public-web --project "$PROJECT" \
      --network "$NETWORK" --direction INGRESS --action allow --rules tcp:80,tcp:8000 \
      --source-ranges "$PUBLIC_RANGES" --target-tags mlcycle-public
fi

say "Roles for $PIPELINE_SA on the VM (on top of bootstrap.sh's aiplatform.user, storage.objectUser)"
# Pull the images; `mlcycle submit` checks the bucket exists (buckets.get) and starts the
# Vertex AI run as this same account, which needs actAs on itself.
run gcloud artifacts repositories add-iam-policy-binding "$REPOSITORY" --project "$PROJECT" \
  --location "$REGION" --member "serviceAccount:$PIPELINE_SA" --role roles/artifactregistry.reader
run gcloud storage buckets add-iam-policy-binding "gs://$BUCKET" \
  --member "serviceAccount:$PIPELINE_SA" --role roles/storage.legacyBucketReader
run gcloud iam service-accounts add-iam-policy-binding "$PIPELINE_SA" --project "$PROJECT" \
  --member "serviceAccount:$PIPELINE_SA" --role roles/iam.serviceAccountUser

if [[ -z $TAG ]]; then
  tags_found=$(value_of TAG gcloud artifacts docker images list "$IMAGES/mlcycle-ui" \
    --project "$PROJECT" --include-tags --sort-by ~updateTime --limit 1 --format 'value(tags)')
  TAG=${tags_found%%[,; ]*} # the first, however gcloud joins a list
  [[ -n $TAG ]] || { echo "no mlcycle-ui image in $IMAGES yet: push to main first (docs/deploy.md)" >&2; exit 1; }
fi

# The startup script and the compose files it runs travel in the VM's metadata: the VM
# needs no checkout. The startup script reads the mlcycle-* keys.
settings="enable-oslogin=TRUE,mlcycle-root=gs://$BUCKET/$PREFIX,mlcycle-images=$IMAGES"
settings+=",mlcycle-image-tag=$TAG"
files="startup-script=$HERE/vm-startup.sh,mlcycle-compose=$REPO/docker-compose.yml"
files+=",mlcycle-compose-vm=$HERE/vm-compose.yml,mlcycle-compose-public=$HERE/vm-public.yml"

say "VM $NAME in $ZONE ($MACHINE_TYPE, ${DISK_SIZE} GB, Debian 12), images :$TAG"
if exists gcloud compute instances describe "$NAME" --project "$PROJECT" --zone "$ZONE"; then
  # Public or not stays as created: it decided the VM's address.
  run gcloud compute instances add-metadata "$NAME" --project "$PROJECT" --zone "$ZONE" \
    --metadata "$settings" --metadata-from-file "$files"
  echo "$NAME exists: its settings are updated; they apply at its next boot:" \
    "gcloud compute instances reset $NAME --project $PROJECT --zone $ZONE"
else
  address=(--no-address)
  $public && address=()
  run gcloud compute instances create "$NAME" --project "$PROJECT" --zone "$ZONE" \
    --machine-type "$MACHINE_TYPE" --image-family debian-12 --image-project debian-cloud \
    --boot-disk-size "${DISK_SIZE}GB" --boot-disk-type pd-balanced \
    --subnet "$SUBNET" "${address[@]}" --tags "$tags" \
    --service-account "$PIPELINE_SA" --scopes cloud-platform \
    --shielded-secure-boot --shielded-vtpm --shielded-integrity-monitoring \
    --metadata "$settings,mlcycle-public=$public" --metadata-from-file "$files"
fi

ssh="gcloud compute ssh $NAME --project $PROJECT --zone $ZONE --tunnel-through-iap"
cat <<EOF

Done. At its first boot the VM installs Docker, pulls the images and trains (a few minutes).
Follow it:
  $ssh -- sudo journalctl -u google-startup-scripts.service -f
The UI and the API, through an IAP tunnel (nothing else reaches the VM):
  $ssh -- -N -L 8081:127.0.0.1:8081 -L 8080:127.0.0.1:8080
  then open http://127.0.0.1:8081 (UI) and http://127.0.0.1:8080/docs (API).
EOF
if $public; then
  ip=$(value_of EXTERNAL_IP gcloud compute instances describe "$NAME" --project "$PROJECT" \
    --zone "$ZONE" --format 'value(networkInterfaces[0].accessConfigs[0].natIP)')
  echo "Public, plain HTTP, from $PUBLIC_RANGES: UI http://$ip/  API http://$ip:8000/docs"
fi
cat <<EOF
Work on it: $ssh
  then cd /opt/mlcycle && sudo docker-compose ps   (docs/deploy.md, "Working from the VM")
Delete the VM when done:
  gcloud compute instances delete $NAME --project $PROJECT --zone $ZONE --quiet
and, if no other VM uses them, what this script made around it:
  gcloud compute routers delete $ROUTER --project $PROJECT --region $REGION --quiet
  gcloud compute firewall-rules delete mlcycle-allow-iap-ssh mlcycle-allow-public-web --project $PROJECT --quiet
  gcloud compute networks subnets delete $SUBNET --project $PROJECT --region $REGION --quiet
  gcloud compute networks delete $NETWORK --project $PROJECT --quiet
EOF
