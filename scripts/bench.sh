#!/usr/bin/env bash
# Benchmarks (release builds). Prints figures and ratios measured side by side in one run.
#   ./scripts/bench.sh sharing [args]   the sharing server (scripts/bench_sharing.py)
#   ./scripts/bench.sh ingest [args]    CSV to Delta against pandas, polars, pyarrow, DuckDB (scripts/bench_ingest.py)
#   ./scripts/bench.sh upload [args]    delta-bridge upload against aws s3 cp to s3s-fs (scripts/bench_upload.py)
#   ./scripts/bench.sh abuse [args]     50 well-behaved users with and without abusive clients (scripts/bench_abuse.py)
#   ./scripts/bench.sh convert [args]   the desktop app's conversion against delta-bridge convert (scripts/bench_convert.py)
#   ./scripts/bench.sh replicas [args]  queries/s through one and two sharing replicas, one core each (scripts/bench_replicas.py)
#   ./scripts/bench.sh link [args]      drop to shared over a tc-throttled veth against the prototype, DuckDB, polars (root; scripts/bench_link.py)
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
  upload)
    say "installing the benchmark's peers (awscli)"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO/scripts/bench-requirements.txt"
    ensure_s3s_fs
    ensure_firebase
    ensure_keyring
    say "building delta-bridge and delta-bridge-backend (release)"
    (cd "$REPO" && cargo build --release --locked --quiet -p delta-bridge-cli -p delta-bridge-backend)
    with_keyring "$VENV/bin/python" "$REPO/scripts/bench_upload.py" "$CARGO_TARGET_DIR/release" "$DELTA_BRIDGE_CACHE/bench" "$@"
    ;;
  abuse)
    ensure_firebase
    case " $* " in *" --s3 "*) ensure_s3s_fs ;; esac
    say "building delta-bridge-backend and delta-bridge-sharing (release)"
    (cd "$REPO" && cargo build --release --locked --quiet -p delta-bridge-backend -p delta-bridge-sharing)
    "$VENV/bin/python" "$REPO/scripts/bench_abuse.py" "$CARGO_TARGET_DIR/release" "$DELTA_BRIDGE_CACHE/bench" "$@"
    ;;
  convert)
    ensure_firebase
    ensure_keyring
    ensure_desktop
    ensure_tauri_driver
    say "building delta-bridge, delta-bridge-backend and delta-bridge-desktop (release)"
    (cd "$REPO" && cargo build --release --locked --quiet -p delta-bridge-cli -p delta-bridge-backend -p delta-bridge-desktop)
    with_keyring "$VENV/bin/python" "$REPO/scripts/bench_convert.py" "$CARGO_TARGET_DIR/release" "$DELTA_BRIDGE_CACHE/bench" "$@"
    ;;
  replicas)
    say "building delta-bridge-sharing (release)"
    (cd "$REPO" && cargo build --release --locked --quiet -p delta-bridge-sharing)
    "$VENV/bin/python" "$REPO/scripts/bench_replicas.py" "$CARGO_TARGET_DIR/release/delta-bridge-sharing" "$DELTA_BRIDGE_CACHE/bench" "$@"
    ;;
  link)
    [ "$(id -u)" -eq 0 ] || { echo "bench.sh link makes network namespaces and throttles them with tc: run it as root" >&2; exit 1; }
    command -v tc >/dev/null || apt_install iproute2
    [ -x /usr/bin/time ] || apt_install time
    say "installing the benchmark's peers (polars, duckdb, awscli, boto3)"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO/scripts/bench-requirements.txt"
    ensure_s3s_fs
    ensure_firebase
    ensure_keyring
    say "building delta-bridge and delta-bridge-backend (release)"
    (cd "$REPO" && cargo build --release --locked --quiet -p delta-bridge-cli -p delta-bridge-backend)
    with_keyring "$VENV/bin/python" "$REPO/scripts/bench_link.py" "$CARGO_TARGET_DIR/release" "$DELTA_BRIDGE_CACHE/bench" "$@"
    ;;
  *) echo "usage: $0 sharing|ingest|upload|abuse|convert|replicas|link [args]" >&2; exit 2 ;;
esac
