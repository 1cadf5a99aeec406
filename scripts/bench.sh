#!/usr/bin/env bash
# Benchmarks (release builds). Prints figures and ratios measured side by side in one run.
#   ./scripts/bench.sh sharing [args]   the sharing server (scripts/bench_sharing.py)
#   ./scripts/bench.sh ingest [args]    CSV to Delta against pandas, polars, pyarrow, DuckDB (scripts/bench_ingest.py)
set -euo pipefail
source "$(dirname "$0")/setup.sh"
ensure_system
ensure_venv
what="${1:-sharing}"; shift || true
case "$what" in
  sharing)
    say "building delta-bridge-sharing (release)"
    (cd "$REPO" && cargo build --release --locked --quiet -p delta-bridge-sharing)
    "$VENV/bin/python" "$REPO/scripts/bench_sharing.py" "$CARGO_TARGET_DIR/release/delta-bridge-sharing" "$DELTA_BRIDGE_CACHE/bench" "$@"
    ;;
  ingest)
    say "installing the benchmark's peers (polars, duckdb)"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO/scripts/bench-requirements.txt"
    say "building delta-bridge (release)"
    (cd "$REPO" && cargo build --release --locked --quiet -p delta-bridge-cli)
    "$VENV/bin/python" "$REPO/scripts/bench_ingest.py" "$CARGO_TARGET_DIR/release/delta-bridge" "$DELTA_BRIDGE_CACHE/bench" "$@"
    ;;
  *) echo "usage: $0 sharing|ingest [args]" >&2; exit 2 ;;
esac
