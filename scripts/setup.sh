# Sourced by scripts/run.sh and scripts/test.sh: installs, idempotently, what the product and its tests
# need on a Debian/Ubuntu machine, into a cache outside the clone (so repeat runs are incremental).
#   DELTA_BRIDGE_CACHE  cache root (default ~/.cache/delta-bridge)
#   CARGO_TARGET_DIR    cargo target directory (default $DELTA_BRIDGE_CACHE/target)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DELTA_BRIDGE_CACHE="${DELTA_BRIDGE_CACHE:-$HOME/.cache/delta-bridge}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$DELTA_BRIDGE_CACHE/target}"
VENV="$DELTA_BRIDGE_CACHE/venv"
TOOLS="$DELTA_BRIDGE_CACHE/tools"
S3S_FS_VERSION=0.14.1
mkdir -p "$DELTA_BRIDGE_CACHE"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_install() {
  # Installs Debian packages that are missing; needs root or sudo.
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_system() {
  command -v cargo >/dev/null || { echo "cargo (Rust 1.92 or newer) is required: https://rustup.rs" >&2; exit 1; }
  command -v cc >/dev/null || apt_install build-essential
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  # The cluster test gives each replica its own network namespace.
  command -v ip >/dev/null || apt_install iproute2
}

ensure_venv() {
  local requirements="$REPO/scripts/requirements.txt"
  local stamp="$VENV/.requirements.sha256"
  local want; want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  say "creating the Python environment (delta-sharing client, deltalake, pytest) in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  echo "$want" > "$stamp"
}

ensure_s3s_fs() {
  export S3S_FS_BIN="$TOOLS/bin/s3s-fs"
  if [ -x "$S3S_FS_BIN" ] && "$S3S_FS_BIN" --version 2>/dev/null | grep -q "$S3S_FS_VERSION"; then return 0; fi
  say "building the S3-compatible test server s3s-fs $S3S_FS_VERSION (a few minutes, once)"
  cargo install "s3s-fs@$S3S_FS_VERSION" --features binary --locked --root "$TOOLS" --quiet
}

ensure_keyring() {
  # A Secret Service for the OS keyring tests (the client library keeps its refresh token there).
  command -v gnome-keyring-daemon >/dev/null && command -v dbus-run-session >/dev/null && command -v secret-tool >/dev/null \
    || apt_install gnome-keyring dbus-daemon libsecret-tools
}

# Runs a command in a private D-Bus session with an unlocked gnome-keyring (a real Secret Service) whose
# files live in a throwaway home, so tests never touch the user's own keyring.
with_keyring() {
  local home; home="$(mktemp -d)"
  mkdir -p "$home/run" && chmod 700 "$home/run"
  HOME="$home" XDG_RUNTIME_DIR="$home/run" dbus-run-session -- bash -c \
    'printf "delta-bridge-tests" | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"' keyring "$@" \
    2> >(grep -v "Failed to set fd limit" >&2)
  local status=$?
  rm -rf "$home"
  return $status
}

# Starts a throwaway PostgreSQL cluster (installing the server if missing) and exports
# DELTA_BRIDGE_TEST_POSTGRES, so the backend's tests also run on Postgres. Stopped by stop_postgres.
start_postgres() {
  local bin; bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  if [ -z "$bin" ]; then apt_install postgresql; bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"; fi
  PG_DIR="$(mktemp -d)"
  local as=""
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$PG_DIR"; as="runuser -u postgres --"; fi
  local port; port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  $as "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust >/dev/null
  $as "$bin/pg_ctl" -D "$PG_DIR/data" -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1" -l "$PG_DIR/log" -w start >/dev/null
  PG_CTL="$as $bin/pg_ctl"
  export DELTA_BRIDGE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port"
}

stop_postgres() {
  [ -n "${PG_DIR:-}" ] || return 0
  $PG_CTL -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}

ensure_desktop() {
  # What the Tauri desktop app builds and runs with (WebKitGTK), plus Xvfb and WebKitWebDriver for its tests;
  # then the UI's packages (pinned by ui/package-lock.json) and its build, which the Rust build embeds.
  local missing=0
  pkg-config --exists webkit2gtk-4.1 2>/dev/null || missing=1
  command -v Xvfb >/dev/null && command -v WebKitWebDriver >/dev/null || missing=1
  command -v xclip >/dev/null && command -v xdotool >/dev/null || missing=1
  pkg-config --exists ayatana-appindicator3-0.1 2>/dev/null || missing=1
  [ "$missing" -eq 0 ] || apt_install libwebkit2gtk-4.1-dev libxdo-dev libssl-dev librsvg2-dev pkg-config xvfb xauth webkit2gtk-driver xclip \
    xdotool libayatana-appindicator3-dev
  command -v npm >/dev/null || apt_install nodejs npm
  local want; want="$(sha256sum "$REPO/ui/package-lock.json" | cut -d' ' -f1)"
  if [ ! -d "$REPO/ui/node_modules" ] || [ "$(cat "$REPO/ui/node_modules/.lock.sha256" 2>/dev/null)" != "$want" ]; then
    say "installing the UI's packages"
    (cd "$REPO/ui" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" > "$REPO/ui/node_modules/.lock.sha256"
  fi
  say "building the UI"
  (cd "$REPO/ui" && npm run --silent build >/dev/null)
}

ensure_browser() {
  # Chromium and ChromeDriver: the activation page a recipient opens is tested in a real browser.
  command -v chromium >/dev/null && command -v chromedriver >/dev/null || apt_install chromium chromium-driver
}

ensure_tauri_driver() {
  # The WebDriver bridge of the desktop app's end-to-end test.
  export TAURI_DRIVER_BIN="$TOOLS/bin/tauri-driver"
  [ -x "$TAURI_DRIVER_BIN" ] && return 0
  command -v xclip >/dev/null || apt_install xclip
  say "building tauri-driver (once)"
  cargo install tauri-driver@2.1.0 --locked --root "$TOOLS" --quiet
}

ensure_firebase() {
  # The official Firebase Auth emulator (firebase-tools from npm; the auth emulator needs no Java).
  export FIREBASE_BIN="$DELTA_BRIDGE_CACHE/firebase/node_modules/.bin/firebase"
  local want; want="$(cat "$REPO/tests/firebase/package.json" "$REPO/tests/firebase/package-lock.json" | sha256sum | cut -d' ' -f1)"
  local stamp="$DELTA_BRIDGE_CACHE/firebase/.lock.sha256"
  if [ -x "$FIREBASE_BIN" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  command -v npm >/dev/null || apt_install nodejs npm
  say "installing the Firebase Auth emulator (firebase-tools, about 3 minutes, once)"
  mkdir -p "$DELTA_BRIDGE_CACHE/firebase"
  cp "$REPO/tests/firebase/package.json" "$REPO/tests/firebase/package-lock.json" "$DELTA_BRIDGE_CACHE/firebase/"
  (cd "$DELTA_BRIDGE_CACHE/firebase" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$stamp"
}

ensure_packaging() {
  # The Tauri CLI (from npm, pinned by packaging/package-lock.json) that bundles the desktop app.
  export TAURI_CLI_BIN="$REPO/packaging/node_modules/.bin/tauri"
  local want; want="$(sha256sum "$REPO/packaging/package-lock.json" | cut -d' ' -f1)"
  if [ -x "$TAURI_CLI_BIN" ] && [ "$(cat "$REPO/packaging/node_modules/.lock.sha256" 2>/dev/null)" = "$want" ]; then return 0; fi
  command -v npm >/dev/null || apt_install nodejs npm
  command -v rpm >/dev/null || apt_install rpm
  say "installing the Tauri CLI"
  (cd "$REPO/packaging" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$REPO/packaging/node_modules/.lock.sha256"
}

updater_key() {
  # The private key updates are signed with: DELTA_BRIDGE_UPDATER_KEY (a file `tauri signer generate` wrote;
  # its password, if any, in TAURI_SIGNING_PRIVATE_KEY_PASSWORD), else a key made once on this machine in the
  # cache (packages built with it accept only updates signed here). Its public half is "$key.pub".
  if [ -n "${DELTA_BRIDGE_UPDATER_KEY:-}" ]; then
    [ -f "$DELTA_BRIDGE_UPDATER_KEY" ] && [ -f "$DELTA_BRIDGE_UPDATER_KEY.pub" ] \
      || { echo "DELTA_BRIDGE_UPDATER_KEY=$DELTA_BRIDGE_UPDATER_KEY: no such key, or no $DELTA_BRIDGE_UPDATER_KEY.pub beside it" >&2; return 1; }
    return 0
  fi
  export DELTA_BRIDGE_UPDATER_KEY="$DELTA_BRIDGE_CACHE/updater/local.key"
  if [ ! -f "$DELTA_BRIDGE_UPDATER_KEY.pub" ]; then
    say "making a local update signing key ($DELTA_BRIDGE_UPDATER_KEY; set DELTA_BRIDGE_UPDATER_KEY to your release key)"
    mkdir -p "$(dirname "$DELTA_BRIDGE_UPDATER_KEY")"
    chmod 700 "$(dirname "$DELTA_BRIDGE_UPDATER_KEY")"
    "$TAURI_CLI_BIN" signer generate --ci --force -p "" -w "$DELTA_BRIDGE_UPDATER_KEY" >/dev/null
  fi
}

build_packages() {
  # The desktop app's installers ($1: deb,rpm) into $REPO/dist, holding the optimised app and CLI, each with
  # its update signature beside it (.sig). The app accepts updates signed with the same key
  # (updater_key); DELTA_BRIDGE_UPDATE_URL, if set, is where it looks for them unless its settings say otherwise.
  local bundles="${1:-deb,rpm}"
  updater_key
  say "building the command-line tool (release)"
  (cd "$REPO" && cargo build --release --locked --quiet -p delta-bridge-cli)
  say "building and bundling the desktop app (release; $bundles)"
  # The CLI goes into the packages next to the app: its path is only known here (the target directory is
  # outside the clone), so it is given as a configuration overlay rather than written in tauri.conf.json;
  # so is the update key's public half, and the update URL.
  local cli="$CARGO_TARGET_DIR/release/delta-bridge"
  local pubkey endpoints="" overlay
  pubkey="$(tr -d '\n' < "$DELTA_BRIDGE_UPDATER_KEY.pub")"
  [ -z "${DELTA_BRIDGE_UPDATE_URL:-}" ] || endpoints="$(printf ',"endpoints":["%s"]' "$DELTA_BRIDGE_UPDATE_URL")"
  overlay="$(printf '{"bundle":{"linux":{"deb":{"files":{"/usr/bin/delta-bridge":"%s"}},"rpm":{"files":{"/usr/bin/delta-bridge":"%s"}}}},"plugins":{"updater":{"pubkey":"%s"%s}}}' "$cli" "$cli" "$pubkey" "$endpoints")"
  (cd "$REPO" && CI=true "$TAURI_CLI_BIN" build --ci --bundles "$bundles" --config "$overlay" >"$CARGO_TARGET_DIR/package.log" 2>&1) \
    || { tail -40 "$CARGO_TARGET_DIR/package.log" >&2; return 1; }
  mkdir -p "$REPO/dist"
  rm -f "$REPO"/dist/*.deb "$REPO"/dist/*.rpm
  local format
  rm -f "$REPO"/dist/*.sig
  local version package
  version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -1)"
  for format in ${bundles//,/ }; do
    for package in "$CARGO_TARGET_DIR"/release/bundle/"$format"/*."$format"; do
      cp "$package" "$REPO/dist/"
      # The signature names the version, which the app requires (a manifest cannot pass an old release off as new).
      "$TAURI_CLI_BIN" signer sign -f "$DELTA_BRIDGE_UPDATER_KEY" -p "${TAURI_SIGNING_PRIVATE_KEY_PASSWORD:-}" \
        --app-version "$version" "$REPO/dist/$(basename "$package")" >/dev/null
    done
  done
  export DELTA_BRIDGE_PACKAGES="$REPO/dist"
}

build_release() {
  # The optimised binaries the product runs (and the packages hold): conversion is ~12x faster than debug.
  say "building the optimised binaries (target: $CARGO_TARGET_DIR/release)"
  (cd "$REPO" && cargo build --release --workspace --locked --quiet)
  export DELTA_BRIDGE_SHARING_BIN="$CARGO_TARGET_DIR/release/delta-bridge-sharing"
  export DELTA_BRIDGE_CLI_BIN="$CARGO_TARGET_DIR/release/delta-bridge"
  export DELTA_BRIDGE_BACKEND_BIN="$CARGO_TARGET_DIR/release/delta-bridge-backend"
  export DELTA_BRIDGE_DESKTOP_BIN="$CARGO_TARGET_DIR/release/delta-bridge-desktop"
}

build_workspace() {
  say "building the workspace (target: $CARGO_TARGET_DIR)"
  (cd "$REPO" && cargo build --workspace --locked --quiet)
  export DELTA_BRIDGE_SHARING_BIN="$CARGO_TARGET_DIR/debug/delta-bridge-sharing"
  export DELTA_BRIDGE_CLI_BIN="$CARGO_TARGET_DIR/debug/delta-bridge"
  export DELTA_BRIDGE_BACKEND_BIN="$CARGO_TARGET_DIR/debug/delta-bridge-backend"
  export DELTA_BRIDGE_DESKTOP_BIN="$CARGO_TARGET_DIR/debug/delta-bridge-desktop"
}
