"""A day with the desktop app, end to end through the built app under Xvfb (tauri-driver and WebKitWebDriver)
against the real stack: three files dropped at once, one of them bad (its error on its own row, the others
unaffected); one file's preview edited while another uploads (the running upload keeps its progress and its
Cancel); an upload cancelled; the app killed mid-upload and launched again (the upload is offered with Resume and
finishes); the result shared, copied, and read with the official client."""

import os
import random
import signal
import subprocess
import uuid

import pytest

from conftest import wait_for
from test_desktop import clipboard, launch, pytestmark  # noqa: F401 (the same requirements)
from test_backend import run_snippet

ROWS = 1_500_000


def big_csv(path):
    """A CSV that takes the app's debug build a few seconds to convert and send."""
    rng = random.Random(7)
    with open(path, "w") as f:
        f.write("id,name,amount,day\n")
        for start in range(0, ROWS, 50_000):
            f.write("".join(f"{i},name {i % 977},{rng.random() * 1000:.2f},2024-{1 + i % 12:02d}-{1 + i % 28:02d}\n"
                            for i in range(start, start + 50_000)))
    return path


def item(app, name):
    """The queue item whose dataset name is `name`: its status, error, whether its buttons are enabled."""
    return app.run("""
        const item = [...document.querySelectorAll('#queue .file')].find(i => i.querySelector('.name').value === arguments[0]);
        if (!item) return null;
        const enabled = c => { const b = item.querySelector(c); return b ? !b.disabled : null; };
        return {status: item.dataset.status, error: item.querySelector('.error')?.innerText ?? '',
                rows: item.querySelectorAll('tbody tr').length, progress: !!item.querySelector('progress'),
                done: item.querySelector('progress')?.value ?? 0,
                upload: enabled('.upload'), cancel: enabled('.cancel'), resume: enabled('.resume')};""", name)


def click(app, name, button):
    app.run("""
        const item = [...document.querySelectorAll('#queue .file')].find(i => i.querySelector('.name').value === arguments[0]);
        item.querySelector(arguments[1]).click();""", name, button)


def desktop_pid(tmp_path):
    """The app started for this test (its environment names this test's configuration directory)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"delta-bridge-desktop" not in f.read().split(b"\0")[0]:
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"XDG_CONFIG_HOME={tmp_path / 'config'}".encode() in f.read().split(b"\0"):
                    return int(pid)
        except OSError:
            continue
    return None


def test_three_files_one_bad_edit_while_uploading_cancel_kill_resume_share_and_read(local_stack, tmp_path):
    big = big_csv(tmp_path / "big.csv")
    small = tmp_path / "small.csv"
    small.write_text("code,label\n001,one\n002,two\n")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02PK\x03\x04" * 1000)
    configuration = dict(DELTA_BRIDGE_BACKEND_URL=local_stack.url, FIREBASE_AUTH_EMULATOR_HOST=local_stack.emulator.host)

    session = launch(tmp_path, **configuration)
    app = next(session)
    try:
        app.find("#email", timeout=60)
        app.type("#email", f"{uuid.uuid4().hex[:10]}@example.com")
        app.type("#password", "correct horse battery")
        app.click("#sign-up")
        app.find("#drop")
        app.run("window.deltaBridge.addFiles(arguments[0]);", [str(big), str(small), str(bad)])

        # The bad file's error is on its row; the others have their previews.
        assert wait_for(lambda: "bad.csv" in (item(app, "bad") or {}).get("error", ""), timeout=60), item(app, "bad")
        assert wait_for(lambda: (item(app, "big") or {}).get("rows", 0) > 0 and item(app, "small")["rows"] == 2, timeout=60)
        assert item(app, "big")["error"] == "" and item(app, "small")["error"] == ""

        # Upload big; while it runs, edit small's preview: big keeps its progress and its Cancel.
        click(app, "big", ".upload")
        assert wait_for(lambda: item(app, "big")["status"] == "uploading" and item(app, "big")["cancel"], timeout=30)
        app.run("""const input = [...document.querySelectorAll('#queue .file')].find(i => i.querySelector('.name').value === 'small')
                     .querySelector('.col-name'); input.value = 'postcode'; input.dispatchEvent(new Event('change', {bubbles: true}));""")
        assert wait_for(lambda: app.run("""return [...document.querySelectorAll('#queue .file')].find(i => i.querySelector('.name').value === 'small')
                                              .querySelector('.col-name').value;""") == "postcode", timeout=20)
        running = item(app, "big")
        assert running["status"] == "uploading" and running["progress"] and running["cancel"] and not running["upload"], running
        app.screenshot("5-queue")

        # Cancel it: it stops, and can be uploaded again.
        click(app, "big", ".cancel")
        assert wait_for(lambda: item(app, "big")["status"] == "ready" and item(app, "big")["upload"], timeout=60), item(app, "big")

        # Upload it again, shared, and kill the app in the middle.
        click(app, "big", ".share")
        click(app, "big", ".upload")
        # Once it is under way (its journal written), not at the click.
        assert wait_for(lambda: item(app, "big")["status"] == "uploading" and item(app, "big")["done"] > 0, timeout=60), item(app, "big")
        pid = desktop_pid(tmp_path)
        assert pid, "the app's process was not found"
        os.kill(pid, signal.SIGKILL)
    finally:
        session.close()

    # Launched again: still signed in (the keyring), the upload is offered with Resume, and finishes.
    session = launch(tmp_path, **configuration)
    app = next(session)
    try:
        assert wait_for(lambda: (item(app, "big") or {}).get("status") == "interrupted", timeout=60), app.text("#queue")
        app.screenshot("6-interrupted")
        click(app, "big", ".resume")
        app.find("#copy", timeout=300)
        app.click("#copy")
        assert wait_for(lambda: "load_as_pandas" in clipboard(app.display), timeout=10), "nothing was copied"
        df, error = run_snippet({"python": clipboard(app.display)}, tmp_path / "notebook")
        assert df is not None, error[-2000:]
        assert len(df) == ROWS and sorted(df["id"])[:3] == [0, 1, 2]
    finally:
        session.close()
