#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests, then the official Python client against the real
# server binary, with tables on local disk and on a real S3-compatible server (s3s-fs).
set -euo pipefail
source "$(dirname "$0")/setup.sh"

ensure_system
ensure_venv
ensure_s3s_fs
build_workspace

say "cargo test"
(cd "$REPO" && cargo test --workspace --locked --quiet)

say "pytest: the delta-sharing 1.4.2 client against delta-bridge-sharing"
export DELTA_BRIDGE_FIXTURES="$DELTA_BRIDGE_CACHE/fixtures"
cd "$REPO"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider sharing-server/tests/python "$@"
