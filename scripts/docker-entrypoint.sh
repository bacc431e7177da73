#!/bin/sh
# Entry point of the one-image layout (Dockerfile.fullstack), run as root before supervisord.
#  - /app/data may be a bind mount owned by someone else: make it the `app` user's, who writes it
#    (only what is not theirs yet is changed, so a large volume costs one walk of stat calls).
#  - nginx serves images from /app/data/output; an OUTPUT_DIR elsewhere would make them 404.
set -eu

if [ "$(id -u)" = 0 ]; then
  mkdir -p /app/data/output /app/data/uploads
  find /app/data -xdev ! -user app -exec chown app:app {} +
fi
if [ -n "${OUTPUT_DIR:-}" ]; then
  echo "docker-entrypoint: OUTPUT_DIR=$OUTPUT_DIR is ignored in this image; images live in /app/data/output" >&2
  unset OUTPUT_DIR
fi
exec "$@"
