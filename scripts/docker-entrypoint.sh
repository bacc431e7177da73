#!/bin/sh
# Entry point of the one-image layout (Dockerfile.fullstack), run as root before supervisord.
#  - /app/data may be a bind mount owned by someone else: make it the `app` user's, who writes it
#    (only what is not theirs yet is changed, so a large volume costs one walk of stat calls), and
#    let nginx's workers (www-data) reach and read the images in /app/data/output.
#  - nginx serves images from /app/data/output; an OUTPUT_DIR elsewhere would make them 404.
#  - nginx answers only the host names of ALLOWED_HOSTS (default: loopback and this container's
#    names): the backend's own code writes the list nginx includes, so both agree. Reaching the
#    studio by a LAN address or a domain needs ALLOWED_HOSTS (published ports arrive as localhost).
set -eu

if [ "$(id -u)" = 0 ]; then
  mkdir -p /app/data/output /app/data/uploads
  find /app/data -xdev ! -user app -exec chown app:app {} +
  # nginx's workers (www-data) read the images themselves: the data folder must let them pass and
  # the images be readable to them (a host folder made 0700, e.g. by mktemp, gave 403 on every image).
  chmod o+x /app/data
  find /app/data/output -xdev \( -type d ! -perm -o=x -exec chmod o+rx {} + \) -o \( -type f ! -perm -o=r -exec chmod o+r {} + \)
fi
if [ -n "${OUTPUT_DIR:-}" ]; then
  echo "docker-entrypoint: OUTPUT_DIR=$OUTPUT_DIR is ignored in this image; images live in /app/data/output" >&2
  unset OUTPUT_DIR
fi
# Always run (no root needed when the file is writable), so a bad ALLOWED_HOSTS stops the container
# here, with the reason, instead of leaving nginx and the API to disagree.
hosts_file=${STUDIO_HOSTS_FILE:-/etc/nginx/studio/hosts.conf}
(cd /app && python -m app.core.hosts nginx-map) > "$hosts_file.tmp"
mv "$hosts_file.tmp" "$hosts_file"
exec "$@"
