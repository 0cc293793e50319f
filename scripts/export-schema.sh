#!/usr/bin/env bash
# Prints the Director schema to director/schema.graphql, the reviewed artifact that
# tests/director/test_schema_sdl.py compares with the code. Run it after every schema change.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python - <<'PY'
from pathlib import Path

from director.graphql.schema import build_schema

Path("director/schema.graphql").write_text(build_schema().as_str() + "\n", encoding="utf-8")
PY
echo "export-schema: wrote director/schema.graphql" >&2
