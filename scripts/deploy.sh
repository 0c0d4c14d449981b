#!/usr/bin/env bash
# Deploys one callcare environment to AWS, in steps that can also run one at a time
# (docs/DEPLOY.md explains each):
#
#   scripts/deploy.sh <env> [step ...] [-c key=value ...]     no step: all of them, in this order
#
#   env        install the pinned environments (scripts/bootstrap.sh, infra/bootstrap.sh)
#   artifacts  build the MWAA artifacts (scripts/package_mwaa.py) into $ARTIFACTS
#   synth      synthesize the CDK app for the caller's account/region into infra/build/<env>/cdk.out
#              (-c key=value sets CDK context, e.g. -c callcare:certificateArn=arn:...)
#   storage    CDK CLI: deploy the storage stack (buckets, key, image repository)
#   upload     upload the artifacts to the artifacts bucket (new object versions only when changed)
#   image      build and push the web image, tagged with a digest of its build context
#   stacks     CDK CLI: deploy every stack with the object versions and the image tag as parameters
#   secrets    put the Drive key and folder id into their secrets (GDRIVE_KEY_FILE, GDRIVE_FOLDER_ID)
#   pools      create or update the Airflow pools on MWAA (callcare.names.POOLS) through its REST API
#   status     the MWAA environment's status and UI address
#
#   scripts/deploy.sh staging -c callcare:certificateArn=arn:aws:acm:...
#   GDRIVE_KEY_FILE=key.json GDRIVE_FOLDER_ID=1AbC... ALERT_EMAIL=ops@example.com scripts/deploy.sh prod
#   scripts/deploy.sh staging upload stacks          # a new DAG or plugin, nothing else
#
# The steps that call AWS APIs are scripts/deploy_steps.py (boto3), so AWS_ENDPOINT_URL points them at
# another endpoint (the deployment rehearsal, tests/rehearsal, runs them against moto). The CDK CLI
# (storage, stacks) deploys to AWS only: it refuses to run with AWS_ENDPOINT_URL set. The rehearsal
# runs those two steps too, with CDK set to a stand-in that takes the CLI's command line and creates
# the stacks in moto's CloudFormation.
#
# Needs: node (npx runs the CDK CLI, aws-cdk@2, for storage and stacks), docker for the image step,
# credentials for the target account with AWS_REGION set, and a CDK-bootstrapped account/region
# (`cd infra && npx aws-cdk@2 bootstrap`).
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=(env artifacts synth storage upload image stacks secrets pools status)
usage() { echo "usage: scripts/deploy.sh <env> [${STEPS[*]} | all ...] [-c key=value ...]" >&2; exit 2; }

ENV_NAME=${1:-}
[[ "$ENV_NAME" =~ ^[a-z][a-z0-9]{1,11}$ ]] || usage
shift
selected=()
context=()
while [ $# -gt 0 ]; do
  case "$1" in
    -c) [ $# -ge 2 ] || usage; context+=(-c "$2"); shift 2 ;;
    all) selected+=("${STEPS[@]}"); shift ;;
    *) [[ " ${STEPS[*]} " == *" $1 "* ]] || { echo "deploy: unknown step $1" >&2; usage; }
       selected+=("$1"); shift ;;
  esac
done
[ ${#selected[@]} -gt 0 ] || selected=("${STEPS[@]}")

PYTHON=${PYTHON:-.venv-infra/bin/python}
CDK_CLI="npx --yes aws-cdk@2"
CDK=${CDK:-$CDK_CLI}   # the rehearsal replaces the CLI binary (tests/rehearsal/cdk_standin.py)
ARTIFACTS=${ARTIFACTS:-infra/build/mwaa}
ASSEMBLY=${ASSEMBLY:-infra/build/$ENV_NAME/cdk.out}
ALERT_EMAIL=${ALERT_EMAIL:-}
ALARM_EMAIL=${ALARM_EMAIL:-$ALERT_EMAIL}
STACK_PREFIX="Callcare-${ENV_NAME^}"   # callcare_infra.config.DeployConfig.stack_prefix

log() { printf '\ndeploy %s: %s\n' "$ENV_NAME" "$*"; }
steps() { "$PYTHON" scripts/deploy_steps.py "$1" --env "$ENV_NAME" --assembly "$ASSEMBLY" "${@:2}"; }
cdk() {
  if [ "$CDK" = "$CDK_CLI" ]; then
    if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
      echo "deploy: the CDK CLI deploys to AWS itself; unset AWS_ENDPOINT_URL ($AWS_ENDPOINT_URL)" >&2
      exit 1
    fi
    command -v node >/dev/null || { echo "deploy: node is required (npx runs the CDK CLI)" >&2; exit 1; }
  fi
  # the assembly the synth step wrote: the stacks deployed are the templates the other steps read
  local assembly
  assembly=$(realpath "$ASSEMBLY")
  (cd infra && $CDK deploy --app "$assembly" --require-approval never "$@")
}

run_step() {
  case "$1" in
    env)
      ./scripts/bootstrap.sh
      ./infra/bootstrap.sh ;;
    artifacts)
      "$PYTHON" scripts/package_mwaa.py --out "$ARTIFACTS" ;;
    synth)
      # resolved lookups (availability zones) go to infra/cdk.context.json, or to $CDK_CONTEXT_FILE
      steps synth "${context[@]}" ${CDK_CONTEXT_FILE:+--context-file "$CDK_CONTEXT_FILE"} ;;
    storage)
      cdk "$STACK_PREFIX-Storage" --exclusively ;;
    upload)
      steps upload --artifacts "$ARTIFACTS" ;;
    image)
      steps image ;;
    stacks)
      local listed parameters
      listed=$(steps stack-parameters --alert-email "$ALERT_EMAIL" --alarm-email "$ALARM_EMAIL")
      mapfile -t parameters <<< "$listed"
      cdk --all "${parameters[@]}" ;;
    secrets)
      local args=()
      [ -z "${GDRIVE_KEY_FILE:-}" ] || args+=(--gdrive-key-file "$GDRIVE_KEY_FILE")
      [ -z "${GDRIVE_FOLDER_ID:-}" ] || args+=(--gdrive-folder-id "$GDRIVE_FOLDER_ID")
      steps secrets "${args[@]}" ;;
    pools)
      steps pools ;;
    status)
      steps status ;;
  esac
}

for step in "${selected[@]}"; do
  log "$step"
  run_step "$step"
done
log "done: ${selected[*]}"
