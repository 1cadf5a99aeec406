"""Signed updates, as a colleague who installed the .deb lives them: the package installed on this machine with
dpkg, an update server on loopback announcing 0.1.1, and the installed app asked to update under Xvfb.

- A good update (signed with the release key, naming its version) is offered, downloaded, verified and
  installed by dpkg: the machine then has 0.1.1.
- A tampered package (one byte changed after signing) is refused with a sentence saying nothing was installed.
- A replay (the manifest announcing 0.1.1 but pointing at the genuine, genuinely signed 0.1.0 package) is
  refused too: the signature names the version it was made for.

The plugin installs through `pkexec dpkg -i`; pkexec's part (asking for the administrator's password) is
played by a script that runs the command, since the tests already run as root. dpkg is real.
scripts/test.sh builds the packages (DELTA_BRIDGE_PACKAGES) and names the key they trust
(DELTA_BRIDGE_UPDATER_KEY)."""

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading

import pytest

import test_desktop
from conftest import REPO, wait_for
from test_package import PACKAGES, version

KEY = os.environ.get("DELTA_BRIDGE_UPDATER_KEY", "")
TAURI = os.environ.get("TAURI_CLI_BIN", str(REPO / "packaging/node_modules/.bin/tauri"))
APP = "/usr/bin/delta-bridge-desktop"
NEXT = "0.1.1"


def installed():
    """The version of delta-bridge dpkg has installed, or None."""
    result = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}", "delta-bridge"], capture_output=True, text=True)
    status, _, found = result.stdout.strip().partition(" ")
    return found if result.returncode == 0 and status == "installed" else None


pytestmark = [
    pytest.mark.skipif(not list(PACKAGES.glob("*.deb")), reason="no package: ./scripts/package.sh builds them"),
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("dpkg"), reason="installs a package: needs root and dpkg"),
]


def sign(package, as_version):
    subprocess.run([TAURI, "signer", "sign", "-f", KEY, "-p", os.environ.get("TAURI_SIGNING_PRIVATE_KEY_PASSWORD", ""),
                    "--app-version", as_version, str(package)], check=True, capture_output=True)
    return (package.parent / (package.name + ".sig")).read_text()


@pytest.fixture(scope="module")
def machine():
    """The 0.1.0 package installed on this machine, removed afterwards."""
    assert KEY and os.path.exists(KEY), "DELTA_BRIDGE_UPDATER_KEY names no key: scripts/test.sh sets it when it builds the packages"
    if installed():
        pytest.skip("delta-bridge is already installed on this machine; this test installs and removes it")
    (deb,) = PACKAGES.glob("*.deb")
    subprocess.run(["dpkg", "-i", str(deb)], check=True, capture_output=True)
    try:
        assert installed() == version()
        yield deb
    finally:
        subprocess.run(["pkill", "-f", APP])
        subprocess.run(["dpkg", "--purge", "delta-bridge"], capture_output=True)


@pytest.fixture(scope="module")
def releases(machine, tmp_path_factory):
    """The packages the update server can hand out: 0.1.1 (the same app repackaged with the next version,
    signed for it), a tampered copy of it, and the current 0.1.0 with its own signature."""
    folder = tmp_path_factory.mktemp("releases")
    tree = folder / "tree"
    subprocess.run(["dpkg-deb", "-R", str(machine), str(tree)], check=True)
    control = tree / "DEBIAN/control"
    control.write_text(control.read_text().replace(f"Version: {version()}", f"Version: {NEXT}"))
    good = folder / f"delta-bridge_{NEXT}_amd64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(good)], check=True, capture_output=True)
    shutil.rmtree(tree)
    tampered = folder / "tampered.deb"
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(data)
    current = folder / "current.deb"
    shutil.copy(machine, current)
    return {"good": (good, sign(good, NEXT)), "tampered": (tampered, sign(good, NEXT)),
            "replay": (current, sign(current, version()))}


@pytest.fixture(scope="module")
def server(releases):
    """An update server on loopback; `serve(kind)` makes its manifest announce 0.1.1 with that package. It
    records the paths it answered."""
    folder = next(iter(releases.values()))[0].parent
    answered = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            answered.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"

    def serve(kind):
        package, signature = releases[kind]
        (folder / "latest.json").write_text(json.dumps({
            "version": NEXT, "notes": "Faster uploads.", "pub_date": "2026-12-02T00:00:00Z",
            "platforms": {"linux-x86_64-deb": {"url": f"{base}/{package.name}", "signature": signature}},
        }))
        answered.clear()
        return answered

    serve.url = f"{base}/latest.json"
    yield serve
    httpd.shutdown()


def launched(tmp_path, server):
    """The installed app, configured by the environment to look for updates at the server, with a pkexec
    that runs what it is given (the tests are root: no password to ask for)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "pkexec").write_text('#!/bin/sh\nexec "$@"\n')
    (bin_dir / "pkexec").chmod(0o755)
    return test_desktop.launch(
        tmp_path, PATH=f"{bin_dir}:{os.environ['PATH']}", DELTA_BRIDGE_UPDATE_URL=server.url,
        # Nothing here needs the backend: the update is offered before anyone signs in.
        DELTA_BRIDGE_BACKEND_URL="http://127.0.0.1:9", FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9")


@pytest.fixture
def installed_app(monkeypatch):
    monkeypatch.setattr(test_desktop, "DESKTOP", APP)


@pytest.mark.parametrize("kind", ["tampered", "replay"])
def test_a_tampered_or_replayed_update_is_refused_and_nothing_is_installed(installed_app, server, kind, tmp_path):
    answered = server(kind)
    session = launched(tmp_path, server)
    app = next(session)
    try:
        assert f"Delta-Bridge {NEXT} is available (you have {version()})" in app.text("#update-offer")
        app.click("#update-install")
        app.find("#update-error", timeout=120)
        error = app.text("#update-error")
        assert error.startswith(f"The update to {NEXT} was refused and nothing was installed"), error
        # Why, in the verifier's words: the bytes do not match the signature, or the signature names another version.
        assert {"tampered": "signature verification failed", "replay": f"signed for version {version()}"}[kind] in error, error
        # The package was fetched whole: what refused it is its signature, not the network.
        assert any(path.endswith(".deb") for path in answered), answered
        assert installed() == version()
    finally:
        session.close()


def test_a_signed_update_is_offered_verified_and_installed(installed_app, server, tmp_path):
    server("good")
    session = launched(tmp_path, server)
    app = next(session)
    try:
        assert "Faster uploads." in app.text("#update-offer")
        app.click("#update-install")
        # dpkg installs it, then the app restarts into it (which ends this WebDriver session).
        assert wait_for(lambda: installed() == NEXT, timeout=180, interval=0.5), installed()
    finally:
        session.close()
    files = subprocess.run(["dpkg", "-L", "delta-bridge"], capture_output=True, text=True, check=True).stdout.split()
    assert APP in files and "/usr/bin/delta-bridge" in files
    assert os.access(APP, os.X_OK)
