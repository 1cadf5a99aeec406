#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests; the official Python client against the real sharing
# server, with tables on local disk and on a real S3-compatible server (s3s-fs); and the delta-bridge CLI's
# conversions read back with the independent deltalake reader; and the whole stack (backend with the Firebase
# Auth emulator, sharing server, s3s-fs) read by the official client, driven by the delta-bridge CLI whose
# sign-in lives in a real Secret Service.
set -euo pipefail
source "$(dirname "$0")/setup.sh"

ensure_system
ensure_venv
ensure_s3s_fs
ensure_firebase
ensure_keyring
ensure_desktop
ensure_tauri_driver
ensure_browser
ensure_packaging
build_workspace

say "cargo test"
(cd "$REPO" && cargo test --workspace --locked --quiet)

say "vitest: the desktop app's screens (Tauri IPC mocked at the UI boundary)"
(cd "$REPO/ui" && npx --no-install vitest run --reporter=dot)

say "cargo test: the backend again, its metadata in PostgreSQL"
start_postgres
trap stop_postgres EXIT
(cd "$REPO" && cargo test --locked --quiet -p delta-bridge-backend --test it)
stop_postgres
unset DELTA_BRIDGE_TEST_POSTGRES

say "pytest: the delta-sharing 1.4.2 client against delta-bridge-sharing; delta-bridge convert read back with deltalake"
export DELTA_BRIDGE_FIXTURES="$DELTA_BRIDGE_CACHE/fixtures"
cd "$REPO"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider cli/tests/python
"$VENV/bin/python" -m pytest -q -p no:cacheprovider sharing-server/tests/python "$@"

say "packaging: the .deb and .rpm (optimised app and CLI), as ./scripts/package.sh builds them"
build_packages deb,rpm

say "pytest: the whole stack (Firebase Auth emulator, backend, sharing server, s3s-fs, the official client, the CLI with a real Secret Service, the desktop app under Xvfb)"
with_keyring "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/stack
