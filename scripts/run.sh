#!/usr/bin/env bash
# Runs the whole product on this machine with embedded defaults: the Firebase Auth emulator for sign-in
# (127.0.0.1:9099), the backend (127.0.0.1:8081; SQLite and a local directory under the cache) and the
# sharing server (127.0.0.1:8080) serving the share.yaml the backend writes. A demo user uploads a
# spreadsheet-style CSV converted locally by delta-bridge and shares it; the notebook snippet is printed;
# and, on a display, the desktop app opens.
# Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/setup.sh"

ensure_system
ensure_venv
ensure_firebase
ensure_desktop
build_release

DEMO="$DELTA_BRIDGE_CACHE/demo"
PROJECT="demo-delta-bridge"
EMULATOR="127.0.0.1:9099"
BACKEND="${DELTA_BRIDGE_BACKEND_LISTEN:-127.0.0.1:8081}"
SHARING="${DELTA_BRIDGE_SHARING_LISTEN:-127.0.0.1:8080}"
mkdir -p "$DEMO/firebase"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
wait_http() { for _ in $(seq 1 600); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "$1 did not come up" >&2; exit 1; }

say "starting the Firebase Auth emulator on $EMULATOR (about 25 s)"
printf '{"emulators": {"auth": {"host": "127.0.0.1", "port": 9099}, "ui": {"enabled": false}, "singleProjectMode": true}}\n' > "$DEMO/firebase/firebase.json"
(cd "$DEMO/firebase" && FIREBASE_CLI_DISABLE_UPDATE_CHECK=true NO_UPDATE_NOTIFIER=1 CI=true \
  exec "$FIREBASE_BIN" emulators:start --only auth --project "$PROJECT" --import "$DEMO/firebase/data" --export-on-exit "$DEMO/firebase/data" >"$DEMO/firebase/emulator.log" 2>&1) &
pids+=($!)
wait_http "http://$EMULATOR/"

say "starting the backend on $BACKEND and the sharing server on $SHARING"
FIREBASE_AUTH_EMULATOR_HOST="$EMULATOR" "$DELTA_BRIDGE_BACKEND_BIN" --listen "$BACKEND" --data-dir "$DEMO/backend" \
  --firebase-project "$PROJECT" --sharing-url "http://$SHARING/delta-sharing" > /dev/null &
pids+=($!)
wait_http "http://$BACKEND/healthz"
# Every read is recorded in the access log the backend collects (access-log/ in its data directory).
"$DELTA_BRIDGE_SHARING_BIN" --config "$DEMO/backend/share.yaml" --listen "$SHARING" \
  --access-log "$DEMO/backend/access-log" > /dev/null &
pids+=($!)
wait_http "http://$SHARING/healthz"

# A CSV as spreadsheets export it (semicolons, Windows-1252, ZIP codes, day-first dates), converted locally.
if [ ! -d "$DEMO/orders/_delta_log" ]; then
  printf 'Order ID;Client;Code postal;Montant;Date\r\n1;Zoé Durand;01000;12,50;31/01/2024\r\n2;Jürgen Müller;75001;7;01/02/2024\r\n3;Ana Lima;13002;19,90;15/02/2024\r\n' \
    | iconv -f utf-8 -t windows-1252 > "$DEMO/orders.csv"
  "$DELTA_BRIDGE_CLI_BIN" convert "$DEMO/orders.csv" --out "$DEMO/orders" --name orders
fi
TABLE="$("$VENV/bin/python" "$REPO/scripts/demo_upload.py" "http://$EMULATOR" "http://$BACKEND" "$DEMO/orders" orders "$DEMO/orders-snippet.py")"

cat >&2 <<MSG

Delta-Bridge is running with embedded defaults:
  Firebase Auth emulator  http://$EMULATOR   (demo user: demo@example.com / delta-bridge-demo)
  backend                 http://$BACKEND    (API: http://$BACKEND/openapi.json; data in $DEMO/backend)
  sharing server          http://$SHARING/delta-sharing   (share.yaml: $DEMO/backend/share.yaml)
The demo user shared "orders" as $TABLE. The notebook snippet is in $DEMO/orders-snippet.py; run it:
  cd "$DEMO" && $VENV/bin/python -c "exec(open('orders-snippet.py').read()); print(df)"
Ctrl-C stops everything.

MSG
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  say "opening the desktop app (sign in as the demo user, or create an account)"
  DELTA_BRIDGE_BACKEND_URL="http://$BACKEND" FIREBASE_AUTH_EMULATOR_HOST="$EMULATOR" "$DELTA_BRIDGE_DESKTOP_BIN" &
  pids+=($!)
else
  say "no display: start the desktop app on one with DELTA_BRIDGE_BACKEND_URL=http://$BACKEND FIREBASE_AUTH_EMULATOR_HOST=$EMULATOR $DELTA_BRIDGE_DESKTOP_BIN"
fi
wait
