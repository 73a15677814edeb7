#!/usr/bin/env bash
# Deploy the prediction API or the UI to Cloud Run. Every service setting lives here, so
# Cloud Build (deploy/cloudbuild/main.yaml) and people deploy the same way.
#
#   deploy/cloudrun/deploy.sh api --project P --region R --image IMAGE --root gs://BUCKET/PREFIX
#   deploy/cloudrun/deploy.sh ui  --project P --region R --image IMAGE --api-url https://...
#
# --dry-run prints the gcloud command instead of running it. `gcloud run deploy` creates or
# updates the service (idempotent). Both services are public (--allow-unauthenticated: the
# deployer needs roles/run.admin for that, see deploy/gcp/bootstrap.sh).
set -euo pipefail

usage() {
  sed -n '2,10s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
service=$1
shift
project="" region="" image="" root="" api_url="" dry_run=false
while [[ $# -gt 0 ]]; do
  case $1 in
    --project) project=${2:?}; shift 2 ;;
    --region) region=${2:?}; shift 2 ;;
    --image) image=${2:?}; shift 2 ;;
    --root) root=${2:?}; shift 2 ;;
    --api-url) api_url=${2:?}; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
[[ -n $project && -n $region && -n $image ]] || { echo "--project, --region and --image are required" >&2; usage; }

run() {
  if $dry_run; then
    printf '%q ' "$@" | sed 's/ $/\n/'
  else
    "$@"
  fi
}

# Scale to zero when idle; a cap on instances caps the bill. The containers listen on 8080.
common=(
  --project "$project" --region "$region" --image "$image" --port 8080
  --min-instances 0 --cpu-boost --allow-unauthenticated --quiet
)

case $service in
  api)
    [[ $root == gs://* ]] || { echo "api: --root gs://BUCKET/PREFIX is required" >&2; exit 2; }
    # 1 vCPU handles ~1,500 small predictions/s through onnxruntime; 40 requests in flight
    # per instance keeps p99 low before Cloud Run adds an instance. The admin token comes
    # from Secret Manager, never from the image or the command line.
    run gcloud run deploy mlcycle-api "${common[@]}" \
      --service-account "mlcycle-api@${project}.iam.gserviceaccount.com" \
      --cpu 1 --memory 1Gi --concurrency 40 --max-instances 5 --timeout 60 \
      --set-env-vars "MLCYCLE_ROOT=${root}" \
      --set-secrets "MLCYCLE_ADMIN_TOKEN=mlcycle-admin-token:latest"
    ;;
  ui)
    [[ $api_url == https://* ]] || { echo "ui: --api-url https://... is required" >&2; exit 2; }
    # Every instance signs sessions and CSRF tokens with the same key (Secret Manager,
    # made by deploy/gcp/bootstrap.sh): without it each instance would make its own, and a
    # form one instance served would be refused by another.
    run gcloud run deploy mlcycle-ui "${common[@]}" \
      --service-account "mlcycle-ui@${project}.iam.gserviceaccount.com" \
      --cpu 1 --memory 512Mi --concurrency 40 --max-instances 3 --timeout 60 \
      --set-env-vars "MLCYCLE_API_URL=${api_url},MLCYCLE_UI_PROXY_HOPS=1" \
      --set-secrets "MLCYCLE_UI_SECRET_KEY=mlcycle-ui-secret-key:latest"
    ;;
  *) echo "unknown service: $service (api or ui)" >&2; usage ;;
esac
