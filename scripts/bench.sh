#!/usr/bin/env bash
# Benchmarks of the sharing server (release build). Prints figures and ratios measured in one run.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
ensure_system
ensure_venv
say "building delta-bridge-sharing (release)"
(cd "$REPO" && cargo build --release --locked --quiet -p delta-bridge-sharing)
"$VENV/bin/python" "$REPO/scripts/bench_sharing.py" "$CARGO_TARGET_DIR/release/delta-bridge-sharing" "$DELTA_BRIDGE_CACHE/bench" "$@"
