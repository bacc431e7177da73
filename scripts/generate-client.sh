#!/usr/bin/env bash
# Regenerate the frontend's API types from the backend's OpenAPI schema.
#
#   scripts/generate-client.sh          (from anywhere; paths are resolved from the repo root)
#
# 1. backend: create_app().openapi()  ->  frontend/src/api/openapi.json   (committed)
# 2. openapi-typescript               ->  frontend/src/api/schema.d.ts    (committed, never edited)
# The UI imports the generated types only through frontend/src/api/types.ts.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
out_dir="$root/frontend/src/api"
schema_json="$out_dir/openapi.json"
schema_ts="$out_dir/schema.d.ts"

if [[ ! -x "$python" ]]; then
  echo "generate-client: $python not found; create the venv first (make run / make test)." >&2
  exit 1
fi
if [[ ! -x "$root/frontend/node_modules/.bin/openapi-typescript" ]]; then
  echo "generate-client: installing frontend dev dependencies (npm ci)..." >&2
  (cd "$root/frontend" && npm ci --no-audit --no-fund)
fi

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT

# Import-time only: no server, no database, no credentials are needed to build the schema.
(
  cd "$root/backend"
  DATA_DIR="${DATA_DIR:-$(mktemp -d)}" "$python" - <<'PY'
import json
import re

from app.main import create_app

spec = create_app().openapi()
refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(spec)))
dangling = refs - set(spec.get("components", {}).get("schemas", {}))
if dangling:
    raise SystemExit(f"generate-client: unresolved $ref {sorted(dangling)}")
print(json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False))
PY
) > "$tmp"

chmod 644 "$tmp"
mv "$tmp" "$schema_json"
trap - EXIT

(cd "$root/frontend" && ./node_modules/.bin/openapi-typescript "src/api/openapi.json" -o "src/api/schema.d.ts" --default-non-nullable false)
echo "generate-client: wrote ${schema_json#"$root"/} and ${schema_ts#"$root"/}"
