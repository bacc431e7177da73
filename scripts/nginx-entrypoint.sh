#!/bin/sh
# Entry point of the separated layout's nginx image (nginx/Dockerfile): writes the host allow-list
# the site includes, from ALLOWED_HOSTS (docker-compose.yml passes it from .env), then runs nginx.
# There is no Python in this image: this is the shell twin of `python -m app.core.hosts nginx-map`
# (backend/app/core/hosts.py), and tests/deploy checks both write the same file. Without
# ALLOWED_HOSTS only the loopback names are answered: this container's own names mean nothing to a
# browser, so reaching the studio by a LAN address or a domain needs ALLOWED_HOSTS.
# (`*` anywhere in the list: any name.)
#   STUDIO_HOSTS_FILE   where to write the map (default /etc/nginx/studio/hosts.conf)
set -euf  # -f: no globbing, `*.example.com` is a name here

out=${STUDIO_HOSTS_FILE:-/etc/nginx/studio/hosts.conf}
# The loopback names always (the healthcheck asks there), as the backend does.
hosts="localhost,127.0.0.1,::1,${ALLOWED_HOSTS:-}"

entries=""
any=0
old_ifs=$IFS
IFS=,
for raw in $hosts; do
  IFS=$old_ifs
  entry=$(printf '%s' "$raw" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | tr '[:upper:]' '[:lower:]')
  [ -n "$entry" ] || continue
  entry=${entry#\[}
  entry=${entry%\]}
  case $entry in
    '*') any=1; continue ;;
    *:*:*)
      # An IPv6 address; nginx's $host keeps the brackets.
      printf '%s' "$entry" | grep -Eq '^[0-9a-f:.]+$' || { echo "nginx-entrypoint: ALLOWED_HOSTS: '$raw' is not a host name or an address" >&2; exit 1; }
      entry="[$entry]" ;;
    *:*) echo "nginx-entrypoint: ALLOWED_HOSTS: '$raw': no ports (the names only)" >&2; exit 1 ;;
    *)
      entry=${entry%.}
      printf '%s' "$entry" | grep -Eq '^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$' \
        || { echo "nginx-entrypoint: ALLOWED_HOSTS: '$raw' is not a host name, \`*.domain\` or an address (no ports, no URLs)" >&2; exit 1; }
      ;;
  esac
  case " $entries " in
    *" $entry "*) ;;
    *) entries="$entries $entry" ;;
  esac
  IFS=,
done
IFS=$old_ifs

mkdir -p "$(dirname "$out")"
{
  echo "# Host names nginx answers (ALLOWED_HOSTS), written when the studio starts; others get 421."
  echo "map \$host \$studio_host_allowed {"
  echo "    hostnames;"
  echo "    default $any;"
  if [ "$any" = 0 ]; then
    for entry in $entries; do
      echo "    $entry 1;"
    done
  fi
  echo "}"
} > "$out.tmp"
mv "$out.tmp" "$out"
exec "$@"
