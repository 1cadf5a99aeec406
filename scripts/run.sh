#!/usr/bin/env bash
# Runs the product on this machine with embedded defaults: a spreadsheet-style CSV converted to a Delta
# table by delta-bridge, and the sharing server on 127.0.0.1:8080 serving it and demo tables from local
# disk, with a profile file to read them from Python.
set -euo pipefail
source "$(dirname "$0")/setup.sh"

ensure_system
ensure_venv
build_workspace

DEMO="$DELTA_BRIDGE_CACHE/demo"
LISTEN="${DELTA_BRIDGE_SHARING_LISTEN:-127.0.0.1:8080}"
mkdir -p "$DEMO"
"$VENV/bin/python" "$REPO/scripts/make_tables.py" "$DEMO/tables"
# A CSV as spreadsheets export it (semicolons, Windows-1252, ZIP codes, day-first dates), converted locally.
if [ ! -d "$DEMO/tables/orders/_delta_log" ]; then
  printf 'Order ID;Client;Code postal;Montant;Date\r\n1;Zoé Durand;01000;12,50;31/01/2024\r\n2;Jürgen Müller;75001;7;01/02/2024\r\n3;Ana Lima;13002;19,90;15/02/2024\r\n' \
    | iconv -f utf-8 -t windows-1252 > "$DEMO/orders.csv"
  "$CARGO_TARGET_DIR/debug/delta-bridge" convert "$DEMO/orders.csv" --out "$DEMO/tables/orders" --name orders
fi
TOKEN_FILE="$DEMO/token"
[ -s "$TOKEN_FILE" ] || "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$TOKEN_FILE"
TOKEN="$(cat "$TOKEN_FILE")"
HASH="sha256:$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)"
cat > "$DEMO/share.yaml" <<YAML
version: 1
shares:
- name: demo
  schemas:
  - name: default
    tables:
    - name: people
      location: file://$DEMO/tables/plain
    - name: sales
      location: file://$DEMO/tables/partitioned
    - name: changes
      location: file://$DEMO/tables/cdf
      historyShared: true
    - name: orders
      location: file://$DEMO/tables/orders
authorization:
  tokens:
  - name: demo-recipient
    tokenHash: $HASH
    shares: [demo]
YAML
printf '{"shareCredentialsVersion": 1, "endpoint": "http://%s/delta-sharing", "bearerToken": "%s"}\n' "$LISTEN" "$TOKEN" > "$DEMO/demo.share"
cat >&2 <<MSG

Delta-Bridge sharing server: http://$LISTEN/delta-sharing
  config (edit it: changes apply live): $DEMO/share.yaml
  recipient profile:                    $DEMO/demo.share
Read a table from Python:
  $VENV/bin/python -c "import delta_sharing; print(delta_sharing.load_as_pandas('$DEMO/demo.share#demo.default.orders'))"

MSG
exec "$DELTA_BRIDGE_SHARING_BIN" --config "$DEMO/share.yaml" --listen "$LISTEN"
