#!/bin/sh
# Entry point of the separated layout's nginx image (nginx/Dockerfile): writes the host allow-list
# the site includes, from ALLOWED_HOSTS (docker-compose.yml passes it from .env), then runs nginx.
# There is no Python in this image: this is the shell twin of `python -m app.core.hosts nginx-map`
# (backend/app/core/hosts.py), and tests/deploy checks both write the same file. Without
# ALLOWED_HOSTS only the loopback names are answered: this container's own names mean nothing to a
# browser, so reaching the studio by a LAN address or a domain needs ALLOWED_HOSTS.
# (`*` anywhere in the list: any name.)
#   FRONT_PROXIES       a TLS proxy in front of nginx (addresses or networks, comma-separated):
#                       nginx believes the client address and scheme it forwards, no one else's
#   STORAGE_BACKEND, S3_ENDPOINT, S3_BUCKET, S3_ADDRESSING_STYLE
#                       images on object storage: the bucket's origin joins the CSP's img-src
#   NGINX_RESOLVER      the DNS that names the backend replicas (the site includes the file written
#                       here): empty keeps the image's 127.0.0.11, Docker's embedded DNS; `auto` takes
#                       the first nameserver of /etc/resolv.conf, the network's own DNS under Docker and
#                       under podman with aardvark-dns (the ones after it are the host's, which know no
#                       service names); else addresses, comma-separated (IPv4[:port], IPv6, [IPv6]:port)
#   STUDIO_HOSTS_FILE   where to write the map (default /etc/nginx/studio/hosts.conf)
#   STUDIO_RESOLVER_FILE, STUDIO_RESOLV_CONF   where to write the resolver, where `auto` reads (tests)
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

# As the backend writes them (Settings.front_proxies): a network with its prefix length.
fronts=""
IFS=,
for raw in ${FRONT_PROXIES:-}; do
  IFS=$old_ifs
  net=$(printf '%s' "$raw" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | tr '[:upper:]' '[:lower:]')
  [ -n "$net" ] || continue
  net=${net#\[}
  net=${net%\]}
  case $net in
    */*) ;;
    *:*) net="$net/128" ;;
    *) net="$net/32" ;;
  esac
  printf '%s' "$net" | grep -Eq '^[0-9a-f:.]+/[0-9]{1,3}$' \
    || { echo "nginx-entrypoint: FRONT_PROXIES: '$raw' is not an address or a network" >&2; exit 1; }
  fronts="$fronts $net"
  IFS=,
done
IFS=$old_ifs

# Images on object storage (STORAGE_BACKEND=s3) reach browsers as presigned URLs of the bucket:
# its origin joins the CSP's img-src, as Settings.image_origin says.
image_origin=""
if [ "${STORAGE_BACKEND:-local}" = s3 ] && [ -n "${S3_ENDPOINT:-}" ] && [ -n "${S3_BUCKET:-}" ]; then
  scheme=${S3_ENDPOINT%%://*}
  netloc=${S3_ENDPOINT#*://}
  netloc=${netloc%%/*}
  if ! printf '%s' "$scheme" | grep -Eq '^https?$' || ! printf '%s' "$netloc" | grep -Eq '^[A-Za-z0-9.:-]+$'; then
    echo "nginx-entrypoint: S3_ENDPOINT: '$S3_ENDPOINT' is not an http(s) URL of a host" >&2
    exit 1
  fi
  if [ "${S3_ADDRESSING_STYLE:-virtual}" = virtual ]; then
    netloc="$S3_BUCKET.$netloc"
  fi
  image_origin="$scheme://$netloc"
fi

resolvers=""
if [ "${NGINX_RESOLVER:-}" = auto ]; then
  resolv_conf=${STUDIO_RESOLV_CONF:-/etc/resolv.conf}
  first=$(sed -n 's/^[[:space:]]*nameserver[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$resolv_conf" 2>/dev/null | head -n 1)
  [ -n "$first" ] || { echo "nginx-entrypoint: NGINX_RESOLVER=auto: no nameserver in $resolv_conf" >&2; exit 1; }
  first=${first%%%*}  # fe80::1%eth0: nginx takes no zone
  case $first in *:*) resolvers="[$first]" ;; *) resolvers=$first ;; esac
elif [ -n "${NGINX_RESOLVER:-}" ]; then
  IFS=,
  for raw in $NGINX_RESOLVER; do
    IFS=$old_ifs
    addr=$(printf '%s' "$raw" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | tr '[:upper:]' '[:lower:]')
    [ -n "$addr" ] || continue
    if printf '%s' "$addr" | grep -Eq '^[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]{1,5})?$'; then
      :
    elif printf '%s' "$addr" | grep -Eq '^\[[0-9a-f:.]*:[0-9a-f:.]*\](:[0-9]{1,5})?$'; then
      :
    elif printf '%s' "$addr" | grep -Eq '^[0-9a-f:.]*:[0-9a-f:.]*:[0-9a-f:.]*$'; then
      addr="[$addr]"
    else
      echo "nginx-entrypoint: NGINX_RESOLVER: '$raw' is not an address (IPv4[:port], IPv6, [IPv6]:port) or \`auto\`" >&2
      exit 1
    fi
    resolvers="$resolvers $addr"
    IFS=,
  done
  IFS=$old_ifs
  resolvers=${resolvers# }
  [ -n "$resolvers" ] || { echo "nginx-entrypoint: NGINX_RESOLVER names no address" >&2; exit 1; }
fi
if [ -n "$resolvers" ]; then
  resolver_out=${STUDIO_RESOLVER_FILE:-/etc/nginx/studio/resolver.conf}
  mkdir -p "$(dirname "$resolver_out")"
  {
    echo "# The DNS that names the backend replicas, from NGINX_RESOLVER=${NGINX_RESOLVER}, written when nginx starts."
    echo "resolver $resolvers valid=10s ipv6=off;"
    echo "resolver_timeout 5s;"
  } > "$resolver_out.tmp"
  mv "$resolver_out.tmp" "$resolver_out"
fi

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
  echo "# TLS proxies in front of nginx (FRONT_PROXIES): only their X-Forwarded-For/-Proto are believed."
  echo "geo \$realip_remote_addr \$studio_front_proxy {"
  echo "    default 0;"
  for net in $fronts; do
    echo "    $net 1;"
  done
  echo "}"
  if [ -n "$fronts" ]; then
    for net in $fronts; do
      echo "set_real_ip_from $net;"
    done
    echo "real_ip_header X-Forwarded-For;"
    echo "real_ip_recursive on;"
  fi
  if [ -n "$image_origin" ]; then
    echo "# The bucket presigned image URLs point at (STORAGE_BACKEND=s3): allowed by the CSP's img-src."
    echo "map \$uri \$studio_image_origin {"
    echo "    default \" $image_origin\";"
    echo "}"
  else
    echo "map \$uri \$studio_image_origin {"
    echo "    default \"\";"
    echo "}"
  fi
} > "$out.tmp"
mv "$out.tmp" "$out"
exec "$@"
