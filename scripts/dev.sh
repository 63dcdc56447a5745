#!/usr/bin/env bash
# `make dev`: the whole stack on this machine, without Docker, from the Procfile's own lines.
#
# Settings: dev.env (DEV_ENV_FILE names another), each line unless the environment sets it.
# Order: the services it needs (PostgreSQL, Redis: scripts/ensure-services.sh, run by make;
# LocalStack's S3, started here when nothing answers), the database, then the Procfile's
# `release` alone (migrate first), buckets, sample objects, static files, a mail sink; then
# web, the four worker pools and beat under honcho, on 127.0.0.1. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/.venv/bin:$PATH"
ENV_FILE=$(realpath "${DEV_ENV_FILE:-dev.env}")

while IFS= read -r line || [[ -n $line ]]; do
  [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
  name=${line%%=*}
  [[ -v $name ]] || export "$name=${line#*=}"
done <"$ENV_FILE"
export DJANGO_ENV_FILE=$ENV_FILE DJANGO_SETTINGS_MODULE=project.settings

mail_port=${EMAIL_URL##*:}
mail_port=${mail_port%%/*}
mkdir -p .dev
python scripts/devstack.py ports "$PORT" "$mail_port"
python scripts/devstack.py database

started=()
stop_started() { for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap stop_started EXIT
trap 'exit 130' INT TERM

if ! python scripts/devstack.py s3-ready; then
  [[ -x .venv-localstack/bin/python ]] || make --no-print-directory localstack
  echo "make dev: starting LocalStack's S3 (signature checks on) at $DJANGO_AWS_S3_ENDPOINT_URL"
  SERVICES=s3 S3_SKIP_SIGNATURE_VALIDATION=0 DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 \
    GATEWAY_LISTEN=${DJANGO_AWS_S3_ENDPOINT_URL#*://} LOCALSTACK_VOLUME_DIR=$ROOT/.dev/localstack \
    setsid .venv-localstack/bin/python -m localstack.runtime.main >.dev/localstack.log 2>&1 &
  started+=($!)
  for _ in $(seq 1 120); do python scripts/devstack.py s3-ready && break || sleep 1; done
  python scripts/devstack.py s3-ready || { echo "make dev: see .dev/localstack.log" >&2; exit 1; }
fi

honcho start --no-colour -f Procfile -d "$ROOT" -e /dev/null release  # migrate, before the rest
python manage.py create_buckets
python scripts/devstack.py samples
python manage.py collectstatic --noinput --verbosity 0
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
python -u -m aiosmtpd --nosetuid --listen "127.0.0.1:$mail_port" >>.dev/mail.log 2>&1 &
started+=($!)

python scripts/devstack.py banner
honcho start --no-colour -f Procfile -d "$ROOT" -e /dev/null \
  web upkeep deliveries quarantine bulk beat
