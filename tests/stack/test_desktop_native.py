"""The desktop app's native parts, on a desktop like many Linux ones: no xdg-desktop-portal. The file picker
is GTK's own chooser (driven here with xdotool as a user would: type the path, press Enter), and the app opens
the CSV files it is launched with (a file manager's "Open with")."""

import json
import os
import shutil
import subprocess
import uuid

import pytest

from conftest import wait_for
import test_desktop
from test_desktop import launch

pytestmark = pytest.mark.skipif(
    not (os.environ.get("DBUS_SESSION_BUS_ADDRESS") and shutil.which("Xvfb") and shutil.which("WebKitWebDriver")
         and shutil.which("xdotool")),
    reason="needs Xvfb, WebKitWebDriver, xdotool and a Secret Service session (scripts/test.sh provides them)",
)


@pytest.fixture
def desktop(local_stack, tmp_path):
    yield from launch(tmp_path, DELTA_BRIDGE_BACKEND_URL=local_stack.url, FIREBASE_AUTH_EMULATOR_HOST=local_stack.emulator.host)


def xdotool(display, *args):
    return subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=20,
                          env=dict(os.environ, DISPLAY=f":{display}"))


def test_the_file_picker_works_without_a_portal(desktop, tmp_path):
    app = desktop
    assert subprocess.run(["busctl", "--user", "status", "org.freedesktop.portal.Desktop"], capture_output=True).returncode != 0
    csv = tmp_path / "picked.csv"
    csv.write_text("id,name\n1,x\n")

    # The command the "choose files…" button calls; it answers when the dialog closes.
    app.run("""window.__picked = null;
        window.__TAURI_INTERNALS__.invoke('pick_files').then(r => window.__picked = JSON.stringify(r),
                                                               e => window.__picked = 'error: ' + JSON.stringify(e));""")
    window = []

    def dialog_shown():
        found = xdotool(app.display, "search", "--name", "Choose files to share").stdout.split()
        window[:] = found
        return bool(found)

    assert wait_for(dialog_shown, timeout=30, interval=0.5), "no file chooser appeared"
    # Keys through XTEST to the focused window (GTK ignores events sent to a window directly).
    xdotool(app.display, "windowfocus", "--sync", window[0])
    xdotool(app.display, "key", "ctrl+l")
    xdotool(app.display, "type", "--delay", "20", str(csv))
    picked = lambda: app.run("return window.__picked;")
    # Enter opens the typed path (the first may only close the location bar's completion popup).
    for _ in range(5):
        xdotool(app.display, "key", "Return")
        if wait_for(picked, timeout=3, interval=0.3):
            break
    assert picked(), "the file chooser did not answer"
    assert json.loads(picked()) == [str(csv)], picked()


def test_the_app_opens_the_csv_files_it_is_launched_with(local_stack, tmp_path):
    csv = tmp_path / "opened.csv"
    csv.write_text("id,name\n1,x\n")
    not_a_file = tmp_path / "nothing-here.csv"
    session = launch(tmp_path, DELTA_BRIDGE_BACKEND_URL=local_stack.url, FIREBASE_AUTH_EMULATOR_HOST=local_stack.emulator.host,
                     args=[str(csv), str(not_a_file), "--some-flag"])
    app = next(session)
    try:
        app.find("#email", timeout=60)
        app.run("""window.__opened = null;
            window.__TAURI_INTERNALS__.invoke('opened_files').then(r => window.__opened = JSON.stringify(r));""")
        assert wait_for(lambda: app.run("return window.__opened;"), timeout=20, interval=0.2)
        opened = app.run("return window.__opened;")
        assert json.loads(opened) == [str(csv)], opened
    finally:
        session.close()


def test_opening_a_csv_while_the_app_runs_queues_it_in_the_running_app(local_stack, tmp_path):
    """A file manager's "Open with" while the app is open: the second launch hands its file (named relative to
    its own directory) to the running app and exits; no second window, no second tray icon."""
    (tmp_path / "first.csv").write_text("id,name\n1,x\n")
    (tmp_path / "later.csv").write_text("id,name\n2,y\n")
    configuration = dict(DELTA_BRIDGE_BACKEND_URL=local_stack.url, FIREBASE_AUTH_EMULATOR_HOST=local_stack.emulator.host)
    session = launch(tmp_path, args=[str(tmp_path / "first.csv")], **configuration)
    app = next(session)
    names = lambda: app.run("return [...document.querySelectorAll('#queue .file .name')].map(i => i.value);")
    try:
        app.find("#email", timeout=60)
        # Before sign-in the file waits; it is queued once the user is in.
        second = subprocess.run([test_desktop.DESKTOP, "later.csv"], cwd=tmp_path, env=test_desktop.environment(tmp_path, app.display, **configuration),
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr[-2000:]
        app.type("#email", f"{uuid.uuid4().hex[:10]}@example.com")
        app.type("#password", "correct horse battery")
        app.click("#sign-up")
        assert wait_for(lambda: names() == ["first", "later"], timeout=30, interval=0.2), names()

        # Signed in: a file opened now is queued at once.
        (tmp_path / "third.csv").write_text("id,name\n3,z\n")
        second = subprocess.run([test_desktop.DESKTOP, str(tmp_path / "third.csv")], env=test_desktop.environment(tmp_path, app.display, **configuration),
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr[-2000:]
        assert wait_for(lambda: names() == ["first", "later", "third"], timeout=30, interval=0.2), names()
    finally:
        session.close()
