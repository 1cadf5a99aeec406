"""The installers ./scripts/package.sh builds, as a colleague receives them: the .deb unpacked into a scratch
root holds the optimised app, the delta-bridge CLI, the icon, a desktop entry that opens .csv files, and the
workspace's version; the unpacked app starts under Xvfb and signs in against the local stack; the unpacked CLI
converts a CSV. The .rpm holds the same files. scripts/test.sh sets DELTA_BRIDGE_PACKAGES to the dist/ folder."""

import os
import pathlib
import re
import shutil
import subprocess
import time
import uuid

import pytest

import test_desktop
from conftest import REPO

PACKAGES = pathlib.Path(os.environ.get("DELTA_BRIDGE_PACKAGES", REPO / "dist"))
pytestmark = pytest.mark.skipif(not list(PACKAGES.glob("*.deb")), reason="no package: ./scripts/package.sh builds them")


def version():
    return re.search(r'^version = "([^"]+)"', (REPO / "Cargo.toml").read_text(), re.M).group(1)


@pytest.fixture(scope="module")
def deb():
    (found,) = PACKAGES.glob("*.deb")
    return found


@pytest.fixture(scope="module")
def root(deb, tmp_path_factory):
    """The .deb unpacked into a scratch root (what dpkg would install, without touching this machine)."""
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def test_the_deb_holds_the_app_the_cli_an_icon_and_a_desktop_entry_for_csv(deb, root):
    field = lambda name: subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True).stdout.strip()
    assert field("Version") == version()
    assert field("Package") == "delta-bridge"
    depends = field("Depends")
    assert "libwebkit2gtk-4.1-0" in depends and "libgtk-3-0" in depends, depends

    app, cli = root / "usr/bin/delta-bridge-desktop", root / "usr/bin/delta-bridge"
    assert os.access(app, os.X_OK) and os.access(cli, os.X_OK)
    # Optimised: a release build carries no debug sections.
    sections = subprocess.run(["readelf", "-S", str(app)], capture_output=True, text=True, check=True).stdout
    assert ".debug_info" not in sections

    (entry,) = (root / "usr/share/applications").glob("*.desktop")
    text = entry.read_text()
    assert "Exec=delta-bridge-desktop" in text and re.search(r"^MimeType=.*text/csv", text, re.M), text
    assert "Icon=delta-bridge-desktop" in text, text
    assert list((root / "usr/share/icons/hicolor").glob("*/apps/delta-bridge-desktop.png"))


def test_the_packaged_cli_converts_a_csv(root, tmp_path):
    cli = root / "usr/bin/delta-bridge"
    assert subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True).stdout.strip().endswith(version())
    (tmp_path / "a.csv").write_text("id,name\n1,x\n2,y\n")
    subprocess.run([str(cli), "convert", str(tmp_path / "a.csv"), "--out", str(tmp_path / "a")], check=True, capture_output=True)
    assert list((tmp_path / "a" / "_delta_log").glob("*.json"))


def test_the_packaged_app_starts_and_signs_in(root, local_stack, tmp_path, monkeypatch):
    monkeypatch.setattr(test_desktop, "DESKTOP", str(root / "usr/bin/delta-bridge-desktop"))
    started = time.monotonic()
    session = test_desktop.launch(tmp_path, DELTA_BRIDGE_BACKEND_URL=local_stack.url,
                                  FIREBASE_AUTH_EMULATOR_HOST=local_stack.emulator.host)
    app = next(session)
    try:
        app.find("#email", timeout=60)
        print(f"launch to the sign-in screen: {time.monotonic() - started:.1f} s (with the WebDriver session)")
        app.type("#email", f"{uuid.uuid4().hex[:10]}@example.com")
        app.type("#password", "correct horse battery")
        app.click("#sign-up")
        app.find("#drop")
    finally:
        session.close()


@pytest.mark.skipif(not shutil.which("rpm"), reason="rpm is not installed")
def test_the_rpm_holds_the_same_files():
    (rpm,) = PACKAGES.glob("*.rpm")
    files = subprocess.run(["rpm", "-qpl", str(rpm)], capture_output=True, text=True, check=True).stdout.split()
    assert "/usr/bin/delta-bridge-desktop" in files and "/usr/bin/delta-bridge" in files, files
    assert any(f.endswith(".desktop") for f in files), files
    info = subprocess.run(["rpm", "-qpi", str(rpm)], capture_output=True, text=True, check=True).stdout
    assert re.search(rf"^Version\s*:\s*{re.escape(version())}$", info, re.M), info
