#!/bin/sh
# One-off preparation before the API starts, for layouts with several backends sharing one database
# (docker-compose.yml runs it once as the `migrate` service, before any replica starts):
# brings the schema to the latest Alembic revision, so replicas do not race to migrate it.
# The app also migrates at start-up by itself; after this it finds nothing left to do.
# Runs from the backend's folder: /app in the images, backend/ in a checkout.
set -eu
cd "${APP_DIR:-$(dirname "$0")/..}"
[ -f alembic.ini ] || cd backend
mkdir -p "${DATA_DIR:-./data}/output" "${DATA_DIR:-./data}/uploads"
echo "prestart: alembic upgrade head"
exec python -m alembic upgrade head
