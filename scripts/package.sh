#!/usr/bin/env bash
# Builds the desktop app's installers into dist/: a .deb and an .rpm holding the app (optimised) and the
# delta-bridge command-line tool, with the icon, a desktop entry and the .csv file association. The version is
# the workspace's (Cargo.toml). The macOS and Windows bundle settings are in src-tauri/tauri.conf.json; those
# bundles build only on their own systems.
#   ./scripts/package.sh            both packages
#   ./scripts/package.sh deb        one format
set -euo pipefail
source "$(dirname "$0")/setup.sh"

ensure_system
ensure_desktop
ensure_packaging
build_packages "${1:-deb,rpm}"
say "packages in $REPO/dist:"
ls -l "$REPO/dist" >&2
