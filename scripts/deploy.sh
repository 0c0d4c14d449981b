#!/usr/bin/env bash
# Deploys one callcare environment to AWS (docs/DEPLOY.md walks through it step by step):
#   1. installs the pinned environments and builds the MWAA artifacts (scripts/package_mwaa.py);
#   2. deploys the storage stack (buckets, key, ECR repository) with the CDK CLI;
#   3. uploads the dags prefix, and plugins.zip / requirements.txt / startup.sh when they changed,
#      and reads their S3 object versions;
#   4. builds and pushes the web app image (webapp/Dockerfile), tagged with the commit;
#   5. deploys every stack, passing the object versions and the image tag as stack parameters.
#
#   scripts/deploy.sh dev                      # needs AWS credentials for the target account/region
#   ALERT_EMAIL=ops@example.com scripts/deploy.sh prod
#
# Needs: aws CLI v2, node (npx runs the CDK CLI), docker (unless SKIP_WEB_IMAGE=1), credentials with
# rights to deploy CloudFormation, and a CDK-bootstrapped account/region (`npx aws-cdk@2 bootstrap`).
# Nothing here runs in CI: no machine of ours reaches AWS. The offline checks are tests/infra (synth,
# assertions, cdk-nag) and tests/packaging (the artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_NAME=${1:?usage: scripts/deploy.sh <env> (dev, staging, prod...)}
CDK=${CDK:-npx --yes aws-cdk@2}
ARTIFACTS=${ARTIFACTS:-infra/build/mwaa}
ALERT_EMAIL=${ALERT_EMAIL:-}
ALARM_EMAIL=${ALARM_EMAIL:-$ALERT_EMAIL}
SKIP_WEB_IMAGE=${SKIP_WEB_IMAGE:-0}

log() { printf '\ndeploy: %s\n' "$*"; }

for tool in aws node; do
  command -v "$tool" >/dev/null || { echo "deploy: $tool is required" >&2; exit 1; }
done
ACCOUNT=$(aws sts get-caller-identity --query Account --output text)
REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region || true)}}
[ -n "$REGION" ] || { echo "deploy: set AWS_REGION" >&2; exit 1; }
export CDK_DEFAULT_ACCOUNT=$ACCOUNT CDK_DEFAULT_REGION=$REGION AWS_REGION=$REGION
PREFIX="callcare-$ENV_NAME"
STACK_PREFIX="Callcare-${ENV_NAME^}"
ARTIFACTS_BUCKET="$PREFIX-airflow-$ACCOUNT-$REGION"   # infra/callcare_infra/stacks/common.py
REPOSITORY="$PREFIX-webapp"
CONTEXT=(-c "callcare:env=$ENV_NAME")

log "1/5 environments and MWAA artifacts ($ENV_NAME in $ACCOUNT/$REGION)"
./scripts/bootstrap.sh
./infra/bootstrap.sh
.venv/bin/python scripts/package_mwaa.py --out "$ARTIFACTS"

cdk() { (cd infra && $CDK "$@" "${CONTEXT[@]}"); }

log "2/5 storage stack (buckets, key, image repository)"
cdk deploy "$STACK_PREFIX-Storage" --require-approval never --exclusively

log "3/5 upload the MWAA artifacts to s3://$ARTIFACTS_BUCKET"
aws s3 sync "$ARTIFACTS/dags" "s3://$ARTIFACTS_BUCKET/dags" --delete --only-show-errors
declare -A VERSION
for file in plugins.zip requirements.txt startup.sh; do
  local_sha=$(sha256sum "$ARTIFACTS/$file" | cut -d' ' -f1)
  remote_sha=$(aws s3api head-object --bucket "$ARTIFACTS_BUCKET" --key "$file" \
    --query 'Metadata.sha256' --output text 2>/dev/null || true)
  if [ "$local_sha" != "$remote_sha" ]; then
    aws s3 cp "$ARTIFACTS/$file" "s3://$ARTIFACTS_BUCKET/$file" --metadata "sha256=$local_sha" --only-show-errors
    echo "  uploaded $file"
  else
    echo "  $file unchanged"
  fi
  VERSION[$file]=$(aws s3api head-object --bucket "$ARTIFACTS_BUCKET" --key "$file" --query VersionId --output text)
done

log "4/5 web app image"
TAG=$(git rev-parse --short=12 HEAD)
if ! git diff --quiet HEAD -- webapp; then TAG="$TAG-dirty-$(date -u +%Y%m%d%H%M%S)"; fi
REGISTRY="$ACCOUNT.dkr.ecr.$REGION.amazonaws.com"
if [ "$SKIP_WEB_IMAGE" = 1 ]; then
  TAG=$(aws ecr describe-images --repository-name "$REPOSITORY" \
    --query 'sort_by(imageDetails,&imagePushedAt)[-1].imageTags[0]' --output text)
  echo "  SKIP_WEB_IMAGE=1: keeping the newest pushed image, $TAG"
elif aws ecr describe-images --repository-name "$REPOSITORY" --image-ids "imageTag=$TAG" >/dev/null 2>&1; then
  echo "  $REPOSITORY:$TAG is already pushed"
else
  command -v docker >/dev/null || { echo "deploy: docker is required to build the web app image" >&2; exit 1; }
  [ -f webapp/Dockerfile ] || { echo "deploy: webapp/Dockerfile is missing" >&2; exit 1; }
  aws ecr get-login-password | docker login --username AWS --password-stdin "$REGISTRY"
  docker build --platform linux/amd64 -t "$REGISTRY/$REPOSITORY:$TAG" webapp
  docker push "$REGISTRY/$REPOSITORY:$TAG"
fi

log "5/5 every stack"
cdk deploy --all --require-approval never \
  --parameters "$STACK_PREFIX-Airflow:PluginsObjectVersion=${VERSION[plugins.zip]}" \
  --parameters "$STACK_PREFIX-Airflow:RequirementsObjectVersion=${VERSION[requirements.txt]}" \
  --parameters "$STACK_PREFIX-Airflow:StartupObjectVersion=${VERSION[startup.sh]}" \
  --parameters "$STACK_PREFIX-WebApp:WebImageTag=$TAG" \
  --parameters "$STACK_PREFIX-Alerting:AlertEmail=$ALERT_EMAIL" \
  --parameters "$STACK_PREFIX-Alerting:AlarmEmail=$ALARM_EMAIL"

log "done"
aws mwaa get-environment --name "$PREFIX" --query 'Environment.{status:Status,ui:WebserverUrl}' --output table || true
