#!/usr/bin/env bash
# Set up a Google Cloud project for mlcycle: from an empty project to "push to main deploys".
#
#   deploy/gcp/bootstrap.sh PROJECT REGION [--dry-run]
#
# Optional environment:
#   BUCKET      data, registry and pipeline bucket       (default: PROJECT-mlcycle)
#   PREFIX      mlcycle's root inside the bucket         (default: mlcycle)
#   REPOSITORY  Artifact Registry repository             (default: mlcycle)
#   GITHUB_URI  https://github.com/OWNER/REPO.git; the Cloud Build triggers need it
#   CONNECTION  Cloud Build's GitHub connection name     (default: mlcycle-github)
#
# Idempotent: a resource is created only when missing; IAM bindings are additive. Run it
# again after the one step it cannot do for you (authorising GitHub in a browser).
# --dry-run prints every command, as for a fresh project, and runs none of them.
set -euo pipefail

usage() {
  sed -n '2,15s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

dry_run=false
args=()
for arg in "$@"; do
  case $arg in
    --dry-run) dry_run=true ;;
    -h | --help) usage ;;
    -*) echo "unknown option: $arg" >&2; usage ;;
    *) args+=("$arg") ;;
  esac
done
[[ ${#args[@]} -eq 2 ]] || usage
PROJECT=${args[0]}
REGION=${args[1]}
BUCKET=${BUCKET:-${PROJECT}-mlcycle}
PREFIX=${PREFIX:-mlcycle}
REPOSITORY=${REPOSITORY:-mlcycle}
GITHUB_URI=${GITHUB_URI:-}
CONNECTION=${CONNECTION:-mlcycle-github}

TOPIC=mlcycle-incoming
SECRET=mlcycle-admin-token       # the API's admin token
UI_SECRET=mlcycle-ui-secret-key  # the UI's session/CSRF key: one for every UI instance
sa_email() { echo "mlcycle-$1@${PROJECT}.iam.gserviceaccount.com"; }
PIPELINE_SA=$(sa_email pipeline) # runs the Vertex AI pipeline steps
BUILD_SA=$(sa_email build)       # runs main's and the data trigger's builds: push, submit, deploy
PR_SA=$(sa_email pr)             # runs pull-request builds: the PR's own code, so nothing more
API_SA=$(sa_email api)           # the API on Cloud Run: reads the registry
UI_SA=$(sa_email ui)             # the UI on Cloud Run: reads its key, no other Google API

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh" # say, run, exists, value_of (they read $dry_run)

say "APIs"
run gcloud services enable --project "$PROJECT" \
  cloudbuild.googleapis.com secretmanager.googleapis.com run.googleapis.com \
  artifactregistry.googleapis.com aiplatform.googleapis.com pubsub.googleapis.com \
  storage.googleapis.com iam.googleapis.com cloudresourcemanager.googleapis.com \
  compute.googleapis.com
PROJECT_NUMBER=$(value_of PROJECT_NUMBER \
  gcloud projects describe "$PROJECT" --format='value(projectNumber)')

say "Bucket gs://$BUCKET (data, model registry, pipeline artifacts under $PREFIX/)"
exists gcloud storage buckets describe "gs://$BUCKET" --project "$PROJECT" ||
  run gcloud storage buckets create "gs://$BUCKET" --project "$PROJECT" --location "$REGION" \
    --uniform-bucket-level-access --public-access-prevention

say "Artifact Registry repository $REPOSITORY (the pipeline, api and ui images)"
exists gcloud artifacts repositories describe "$REPOSITORY" --project "$PROJECT" \
  --location "$REGION" ||
  run gcloud artifacts repositories create "$REPOSITORY" --project "$PROJECT" \
    --location "$REGION" --repository-format docker --description "mlcycle images"

say "Service accounts"
for name in pipeline build pr api ui; do
  exists gcloud iam service-accounts describe "$(sa_email "$name")" --project "$PROJECT" ||
    run gcloud iam service-accounts create "mlcycle-$name" --project "$PROJECT" \
      --display-name "mlcycle $name"
done

# A secret holding 32 random bytes (hex), made once: through a private file, never on a
# command line or in the output.
random_secret() {
  exists gcloud secrets describe "$1" --project "$PROJECT" && return 0
  secret_file=$(mktemp)
  trap 'rm -f "$secret_file"' EXIT
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$secret_file"
  run gcloud secrets create "$1" --project "$PROJECT" \
    --replication-policy automatic --data-file "$secret_file"
  rm -f "$secret_file"
}
say "Admin token in Secret Manager ($SECRET; read it with: gcloud secrets versions access latest --secret $SECRET --project $PROJECT)"
random_secret "$SECRET"
# Flask signs sessions and CSRF tokens with it: every UI instance must share one key, or a
# form served by one instance is refused by the next.
say "UI key in Secret Manager ($UI_SECRET)"
random_secret "$UI_SECRET"

say "Roles: least privilege, granted on the resource where possible"
project_role() {
  run gcloud projects add-iam-policy-binding "$PROJECT" --member "serviceAccount:$1" \
    --role "$2" --condition None --quiet
}
bucket_role() {
  run gcloud storage buckets add-iam-policy-binding "gs://$BUCKET" \
    --member "serviceAccount:$1" --role "$2"
}
# Pipeline steps: run as Vertex AI jobs, read data and write models/artifacts in the bucket.
project_role "$PIPELINE_SA" roles/aiplatform.user
bucket_role "$PIPELINE_SA" roles/storage.objectUser
# Builds: submit and wait for pipeline runs, deploy public Cloud Run services (run.admin:
# run.developer cannot make a service public), push images, write build logs. The bucket:
# `mlcycle submit` lists it (and seeds it on a first run); the SDK checks the bucket exists.
project_role "$BUILD_SA" roles/aiplatform.user
project_role "$BUILD_SA" roles/run.admin
project_role "$BUILD_SA" roles/logging.logWriter
bucket_role "$BUILD_SA" roles/storage.objectUser
bucket_role "$BUILD_SA" roles/storage.legacyBucketReader
run gcloud artifacts repositories add-iam-policy-binding "$REPOSITORY" --project "$PROJECT" \
  --location "$REGION" --member "serviceAccount:$BUILD_SA" --role roles/artifactregistry.writer
# ...and act as the accounts it starts things as (and nothing else).
for target in "$PIPELINE_SA" "$API_SA" "$UI_SA"; do
  run gcloud iam service-accounts add-iam-policy-binding "$target" --project "$PROJECT" \
    --member "serviceAccount:$BUILD_SA" --role roles/iam.serviceAccountUser
done
# The API reads the registry and its admin token; the UI its key; nothing else.
bucket_role "$API_SA" roles/storage.objectViewer
run gcloud secrets add-iam-policy-binding "$SECRET" --project "$PROJECT" \
  --member "serviceAccount:$API_SA" --role roles/secretmanager.secretAccessor
run gcloud secrets add-iam-policy-binding "$UI_SECRET" --project "$PROJECT" \
  --member "serviceAccount:$UI_SA" --role roles/secretmanager.secretAccessor
# Pull-request builds run the PR's code (its tests, its Makefile): they get build logs and
# nothing else, so a PR cannot push an image, deploy, start a run, act as another account
# or read a secret. Their images are built and thrown away.
project_role "$PR_SA" roles/logging.logWriter

say "New data -> Pub/Sub: OBJECT_FINALIZE under gs://$BUCKET/$PREFIX/data/incoming/ -> topic $TOPIC"
exists gcloud pubsub topics describe "$TOPIC" --project "$PROJECT" ||
  run gcloud pubsub topics create "$TOPIC" --project "$PROJECT"
GCS_AGENT=$(value_of GCS_SERVICE_AGENT gcloud storage service-agent --project "$PROJECT")
run gcloud pubsub topics add-iam-policy-binding "$TOPIC" --project "$PROJECT" \
  --member "serviceAccount:$GCS_AGENT" --role roles/pubsub.publisher
# Only the incoming prefix: the pipeline writes elsewhere in the bucket, so its own writes can
# never trigger another run.
if $dry_run || ! gcloud storage buckets notifications list "gs://$BUCKET" --project "$PROJECT" \
  --format='value(topic)' 2>/dev/null | grep -q "/topics/$TOPIC\$"; then
  run gcloud storage buckets notifications create "gs://$BUCKET" --project "$PROJECT" \
    --topic "projects/$PROJECT/topics/$TOPIC" --event-types OBJECT_FINALIZE \
    --object-prefix "$PREFIX/data/incoming/" --payload-format json
fi

say "Cloud Build: GitHub connection, repository, triggers (push to main, pull request, new data)"
if [[ -z $GITHUB_URI ]]; then
  echo "GITHUB_URI is not set: skipping the triggers. Run again with" \
    "GITHUB_URI=https://github.com/OWNER/REPO.git to create them."
  exit 0
fi
# gcloud creates the connection's OAuth secret through Cloud Build's own service agent.
run gcloud projects add-iam-policy-binding "$PROJECT" --condition None --quiet \
  --member "serviceAccount:service-${PROJECT_NUMBER}@gcp-sa-cloudbuild.iam.gserviceaccount.com" \
  --role roles/secretmanager.admin
exists gcloud builds connections describe "$CONNECTION" --project "$PROJECT" --region "$REGION" ||
  run gcloud builds connections create github "$CONNECTION" --project "$PROJECT" \
    --region "$REGION"
stage=$(value_of COMPLETE gcloud builds connections describe "$CONNECTION" --project "$PROJECT" \
  --region "$REGION" --format='value(installationState.stage)')
if [[ $stage != COMPLETE ]]; then
  link=$(gcloud builds connections describe "$CONNECTION" --project "$PROJECT" \
    --region "$REGION" --format='value(installationState.actionUri)')
  cat <<EOF

One step needs a person: open this link, authorise Cloud Build on GitHub, and install the
Cloud Build GitHub App on the repository ${GITHUB_URI}:

  ${link}

Then run this script again; it picks up where it stopped.
EOF
  exit 3
fi

repo_name=$(basename "$GITHUB_URI" .git)
exists gcloud builds repositories describe "$repo_name" --project "$PROJECT" \
  --region "$REGION" --connection "$CONNECTION" ||
  run gcloud builds repositories create "$repo_name" --project "$PROJECT" --region "$REGION" \
    --connection "$CONNECTION" --remote-uri "$GITHUB_URI"

repository="projects/$PROJECT/locations/$REGION/connections/$CONNECTION/repositories/$repo_name"
build_sa="projects/$PROJECT/serviceAccounts/$BUILD_SA"
pr_sa="projects/$PROJECT/serviceAccounts/$PR_SA"
settings="_REGION=$REGION,_BUCKET=$BUCKET,_PREFIX=$PREFIX,_REPOSITORY=$REPOSITORY"

trigger_missing() {
  ! exists gcloud builds triggers describe "$1" --project "$PROJECT" --region "$REGION"
}
# Pull requests into main: lint, tests, compile, image builds, as the unprivileged PR
# account. Comment control, set explicitly (gcloud's default, COMMENTS_ENABLED, holds every
# PR until someone comments): PRs from the repository's owners and collaborators, who can
# push to it anyway, build at once; a PR from anyone else runs only after an owner or
# collaborator has read it and commented /gcbrun, so a stranger's code never runs unread.
trigger_missing mlcycle-pr &&
  run gcloud builds triggers create github --name mlcycle-pr --project "$PROJECT" \
    --region "$REGION" --repository "$repository" --pull-request-pattern '^main$' \
    --comment-control COMMENTS_ENABLED_FOR_EXTERNAL_CONTRIBUTORS_ONLY \
    --build-config deploy/cloudbuild/pr.yaml --service-account "$pr_sa"
# Push to main: tests, images, train on Vertex AI, deploy API and UI.
trigger_missing mlcycle-main &&
  run gcloud builds triggers create github --name mlcycle-main --project "$PROJECT" \
    --region "$REGION" --repository "$repository" --branch-pattern '^main$' \
    --build-config deploy/cloudbuild/main.yaml --service-account "$build_sa" \
    --substitutions "$settings"
# New data: the notification's attributes become substitutions (the uploader chooses the
# object's name: retrain.yaml never hands them to a shell); the filter keeps only finalized
# objects under the incoming prefix (the notification already does: belt and braces).
trigger_missing mlcycle-retrain &&
  run gcloud builds triggers create pubsub --name mlcycle-retrain --project "$PROJECT" \
    --region "$REGION" --topic "projects/$PROJECT/topics/$TOPIC" \
    --repository "$repository" --branch main \
    --build-config deploy/cloudbuild/retrain.yaml --service-account "$build_sa" \
    --substitutions "$settings,_EVENT_TYPE=\$(body.message.attributes.eventType),_BUCKET_ID=\$(body.message.attributes.bucketId),_OBJECT_ID=\$(body.message.attributes.objectId),_OBJECT_GENERATION=\$(body.message.attributes.objectGeneration)" \
    --subscription-filter "_EVENT_TYPE == \"OBJECT_FINALIZE\" && _OBJECT_ID.matches(\"^$PREFIX/data/incoming/\")"

cat <<EOF

Done. Push to main (or: gcloud builds triggers run mlcycle-main --project $PROJECT --region $REGION --branch main)
to build the images, train on Vertex AI and deploy. Then:
  gcloud run services describe mlcycle-ui --project $PROJECT --region $REGION --format='value(status.url)'
New data: gcloud storage cp new.csv gs://$BUCKET/$PREFIX/data/incoming/  -> retrains by itself.
EOF
