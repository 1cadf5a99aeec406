"""The desktop app end to end, under Xvfb through tauri-driver and WebKitWebDriver, against the real stack:
sign up, add a CSV through the same path a drop takes, check the preview's rows and types, upload and share,
press Copy, and run the clipboard's text in Python with the official client. A screenshot of each screen
goes to $DELTA_BRIDGE_SCREENSHOTS (docs/screenshots in the repository when refreshed by hand). A fresh app
with nothing configured: it asks for its configuration, refuses plain http to another machine, and signs in only
once the settings are saved (for the user alone, under a permissive umask). And a recipient added in the Share
dialog: their copied snippet reads, their read shows in the Activity view, and once revoked the snippet stops.
Files beyond CSV: a workbook whose sheet is chosen in the preview, and an NDJSON file, read by the official client."""

import base64
import json
import os
import pathlib
import shutil
import socket
import stat
import subprocess
import time
import uuid

import pytest
import requests

from conftest import REPO, TARGET, free_port, port_open, stop, wait_for
from test_backend import AWKWARD, run_snippet, write_csv

DESKTOP = os.environ.get("DELTA_BRIDGE_DESKTOP_BIN", str(TARGET / "delta-bridge-desktop"))
TAURI_DRIVER = os.environ.get("TAURI_DRIVER_BIN", shutil.which("tauri-driver") or "tauri-driver")
SHOTS = pathlib.Path(os.environ.get("DELTA_BRIDGE_SCREENSHOTS", "/tmp/delta-bridge-screenshots"))

pytestmark = pytest.mark.skipif(
    not (os.environ.get("DBUS_SESSION_BUS_ADDRESS") and shutil.which("Xvfb") and shutil.which("WebKitWebDriver")),
    reason="needs Xvfb, WebKitWebDriver and a Secret Service session (scripts/test.sh provides them)",
)


def free_display():
    for n in range(90, 200):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    raise RuntimeError("no free X display")


class WebDriver:
    """The W3C WebDriver protocol over plain HTTP."""

    def __init__(self, url, application, args=()):
        self.url = url
        response = requests.post(f"{url}/session", json={"capabilities": {"alwaysMatch": {
            "browserName": "wry", "tauri:options": {"application": application, "args": list(args)}}}}, timeout=120)
        response.raise_for_status()
        self.session = f"{url}/session/{response.json()['value']['sessionId']}"

    def call(self, method, path, body=None):
        response = requests.request(method, self.session + path, json=body, timeout=120)
        value = response.json().get("value")
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path}: {value}")
        return value

    def find(self, css, timeout=30):
        found = []
        def present():
            response = requests.post(self.session + "/element", json={"using": "css selector", "value": css}, timeout=30)
            if response.status_code == 200:
                found.append(list(response.json()["value"].values())[0])
                return True
            return False
        assert wait_for(present, timeout=timeout, interval=0.2), f"no element {css!r}"
        return found[0]

    def click(self, css):
        self.call("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css, text):
        self.call("POST", f"/element/{self.find(css)}/value", {"text": text})

    def clear(self, css):
        self.call("POST", f"/element/{self.find(css)}/clear", {})

    def text(self, css):
        return self.call("GET", f"/element/{self.find(css)}/text")

    def run(self, script, *args):
        return self.call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def screenshot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / f"{name}.png").write_bytes(base64.b64decode(self.call("GET", "/screenshot")))

    def quit(self):
        requests.delete(self.session, timeout=30)


# What configures the app besides its saved settings; a fresh app is started without any of them.
CONFIGURING = ("DELTA_BRIDGE_BACKEND_URL", "DELTA_BRIDGE_FIREBASE_API_KEY", "FIREBASE_AUTH_EMULATOR_HOST",
               "DELTA_BRIDGE_INSECURE_HTTP", "DELTA_BRIDGE_PROVISIONING", "DELTA_BRIDGE_UPDATE_URL")
IDENTIFIER = "dev.delta-bridge.desktop"


def environment(tmp_path, display, **configuration):
    """What the app launched by `launch(tmp_path, **configuration)` on `display` runs with (a second launch with
    the same environment is the same user's, on the same desktop)."""
    env = {k: v for k, v in os.environ.items() if k not in CONFIGURING}
    env.update(DISPLAY=f":{display}", XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"), **configuration)
    return env


def launch(tmp_path, args=(), **configuration):
    """The app on its own Xvfb display with fresh configuration and data directories, under a permissive
    umask, configured only by `configuration` (environment variables) and started with `args`; yields a
    WebDriver session."""
    display = free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: os.path.exists(f"/tmp/.X11-unix/X{display}"), timeout=20), "Xvfb did not start"
    port, native = free_port(), free_port()
    env = environment(tmp_path, display, **configuration)
    log = open(tmp_path / "tauri-driver.log", "w")
    driver = subprocess.Popen([TAURI_DRIVER, "--port", str(port), "--native-port", str(native)], env=env, stdout=log, stderr=subprocess.STDOUT,
                              preexec_fn=lambda: os.umask(0o022))
    # tauri-driver answers once it and the WebKitWebDriver it starts both listen.
    assert wait_for(lambda: port_open(port) and port_open(native), timeout=30), "tauri-driver did not start"
    session = WebDriver(f"http://127.0.0.1:{port}", DESKTOP, args)
    session.display = display
    # In a finally: a test that drives the generator itself ends it with close(), which runs only this.
    try:
        yield session
    finally:
        try:
            session.quit()
        except Exception:
            pass  # the app may be gone already (killed, or restarted by an update)
        stop(driver)
        # The app holds its single-instance name until it exits: the next launch must not find it still there
        # (it would hand its files over and exit).
        if not wait_for(lambda: not apps_on(display), timeout=15, interval=0.1):
            for pid in apps_on(display):
                os.kill(pid, 9)
        stop(xvfb)


def apps_on(display):
    """The app's processes on `display` (any copy of the binary: built, packaged, restarted by an update)."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.path.basename(os.readlink(entry / "exe")).split(" ")[0] != "delta-bridge-desktop":
                continue
            if f"DISPLAY=:{display}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def desktop(local_stack, tmp_path):
    """The app configured by the environment, as scripts/run.sh starts it."""
    yield from launch(tmp_path, DELTA_BRIDGE_BACKEND_URL=local_stack.url, FIREBASE_AUTH_EMULATOR_HOST=local_stack.emulator.host)


@pytest.fixture
def fresh_desktop(local_stack, tmp_path):
    """The app with no settings, no environment and no provisioning file."""
    if os.path.exists("/etc/delta-bridge/provisioning.json"):
        pytest.skip("this machine has a system-wide provisioning file")
    yield from launch(tmp_path)


def clipboard(display):
    result = subprocess.run(["xclip", "-o", "-selection", "clipboard"], capture_output=True, text=True, env=dict(os.environ, DISPLAY=f":{display}"), timeout=10)
    return result.stdout


def test_sign_up_drop_preview_upload_share_copy_and_read(desktop, tmp_path):
    app = desktop
    app.find("#email", timeout=60)
    app.screenshot("1-sign-in")
    app.type("#email", f"{uuid.uuid4().hex[:10]}@example.com")
    app.type("#password", "correct horse battery")
    app.click("#sign-up")
    app.find("#drop")

    csv = write_csv(tmp_path, AWKWARD, "awkward.csv")
    app.run("window.deltaBridge.addFiles(arguments[0]);", [str(csv)])
    app.find("#queue table td")
    headers = app.run("return [...document.querySelectorAll('#queue th')].map(th => th.querySelector('.col-name').value + ' ' + th.querySelector('.col-type').value);")
    assert headers == ["ZIP_code string", "City string", "amount float64", "day date", "active boolean", "note string"], headers
    first_column = app.run("return [...document.querySelectorAll('#queue tbody tr')].map(tr => tr.cells[0].innerText);")
    assert first_column == ["01234", "98765", "00501", "10001"]
    app.screenshot("2-preview")

    app.run("const input = document.querySelector('#queue .col-name'); input.value = 'postcode'; input.dispatchEvent(new Event('change', {bubbles: true}));")
    assert wait_for(lambda: app.run("return document.querySelector('#queue .col-name').value;") == "postcode", timeout=20)
    app.click("#queue .share")
    app.click("#queue .upload")
    app.find("#copy", timeout=180)
    app.screenshot("3-snippet")
    app.click("#copy")
    assert wait_for(lambda: "load_as_pandas" in clipboard(app.display), timeout=10), "nothing was copied"
    code = clipboard(app.display)
    df, error = run_snippet({"python": code}, tmp_path / "notebook")
    assert df is not None, error[-2000:]
    assert list(df["postcode"]) == ["01234", "98765", "00501", "10001"]

    app.click("#close")
    app.find("#datasets tr[data-id]")
    # The row comes from the upload's answer, without fetching the list: shared, and ready.
    cells = app.run("return [...document.querySelector('#datasets tr[data-id]').cells].map(c => c.innerText.trim());")
    assert cells[0] == "awkward" and cells[4] == "ready" and cells[5] == "yes", cells
    app.screenshot("4-datasets")



def upload_and_read(app, tmp_path):
    """Shares the first queued file, copies its snippet and runs it as a notebook user would."""
    app.click("#queue .share")
    app.click("#queue .upload")
    app.find("#copy", timeout=180)
    app.click("#copy")
    assert wait_for(lambda: "load_as_pandas" in clipboard(app.display), timeout=10), "nothing was copied"
    df, error = run_snippet({"python": clipboard(app.display)}, tmp_path / f"notebook-{uuid.uuid4().hex[:6]}")
    assert df is not None, error[-2000:]
    return df


def signed_up(app):
    app.find("#email", timeout=60)
    app.type("#email", f"{uuid.uuid4().hex[:10]}@example.com")
    app.type("#password", "correct horse battery")
    app.click("#sign-up")
    app.find("#drop")


def headers(app):
    return app.run("return [...document.querySelectorAll('#queue th')].map(th => th.querySelector('.col-name').value + ' ' + th.querySelector('.col-type').value);")


def test_a_workbook_sheet_chosen_in_the_preview_is_what_the_notebook_reads(desktop, tmp_path):
    import openpyxl

    app = desktop
    signed_up(app)
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active["A1"] = "read me first"
    sales = book.create_sheet("Sales")
    sales.append(["Code", "Amount"])
    for code, amount in [("00123", 12.5), ("0456", 3)]:
        sales.append([code, amount])
    path = tmp_path / "book.xlsx"
    book.save(path)
    app.run("window.deltaBridge.addFiles(arguments[0]);", [str(path)])
    app.find("#queue select.sheet")
    options = app.run("return [...document.querySelectorAll('#queue select.sheet option')].map(o => o.innerText.trim());")
    assert options == ["Notes", "Sales"], options
    # The first visible sheet with data is previewed; choosing another previews it again.
    assert wait_for(lambda: len(headers(app)) == 1, timeout=20), headers(app)
    app.run("const s = document.querySelector('#queue select.sheet'); s.selectedIndex = 1; s.dispatchEvent(new Event('change', {bubbles: true}));")
    assert wait_for(lambda: headers(app) == ["Code string", "Amount float64"], timeout=20), headers(app)
    # A workbook has no delimiter or encoding to choose.
    assert app.run("return document.querySelector('#queue .delimiter, #queue .encoding') === null;")
    app.screenshot("5-workbook-preview")
    df = upload_and_read(app, tmp_path)
    assert list(df.columns) == ["Code", "Amount"]
    assert list(df["Code"]) == ["00123", "0456"] and list(df["Amount"]) == [12.5, 3.0]


def test_an_ndjson_file_dropped_in_the_app_is_read_flattened(desktop, tmp_path):
    app = desktop
    signed_up(app)
    path = tmp_path / "events.ndjson"
    records = [{"id": i, "user": {"name": f"n{i}"}, "tags": [i]} for i in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    app.run("window.deltaBridge.addFiles(arguments[0]);", [str(path)])
    assert wait_for(lambda: headers(app) == ["id int64", "user_name string", "tags string"], timeout=30), headers(app)
    df = upload_and_read(app, tmp_path)
    assert list(df["user_name"]) == ["n0", "n1", "n2"] and list(df["tags"]) == ["[0]", "[1]", "[2]"]


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_fresh_app_asks_for_its_configuration_and_signs_in_only_once_it_is_saved(fresh_desktop, local_stack, tmp_path):
    app = fresh_desktop
    app.find("#configure", timeout=60)
    assert app.run("return document.querySelector('#email') === null;")
    # Real Firebase is offered first; the emulator only when chosen.
    assert app.run("return document.querySelector('#configure input[name=firebase][value=emulator]').checked;") is False
    settings = tmp_path / "config" / IDENTIFIER / "settings.json"

    # Plain http to another machine (0.0.0.0 is not loopback) is refused, naming the host and the flag.
    app.type("#configure .backend", "http://0.0.0.0:" + local_stack.url.rsplit(":", 1)[1])
    app.click("#configure input[name=firebase][value=emulator]")
    app.type("#configure .emulator", local_stack.emulator.host)
    app.click("#configure .save")
    assert wait_for(lambda: "0.0.0.0" in app.text("#configure .settings-error"), timeout=20), app.text("#configure")
    assert "--insecure-http" in app.text("#configure .settings-error")
    app.screenshot("0-configure")
    assert not settings.exists()

    app.clear("#configure .backend")
    app.type("#configure .backend", local_stack.url)
    app.click("#configure .save")
    app.find("#email", timeout=30)
    assert json.loads(settings.read_text()) == {"backendUrl": local_stack.url, "firebaseApiKey": None,
                                                "firebaseEmulatorHost": local_stack.emulator.host, "insecureHttp": False}
    assert mode(settings.parent) == 0o700 and mode(settings) == 0o600

    app.type("#email", f"{uuid.uuid4().hex[:10]}@example.com")
    app.type("#password", "correct horse battery")
    app.click("#sign-up")
    app.find("#drop")
    state = tmp_path / "data" / IDENTIFIER
    assert mode(state) == 0o700 and mode(state / "account.json") == 0o600


def test_share_with_a_recipient_copy_their_snippet_see_their_read_and_revoke_them(desktop, tmp_path):
    """The Share dialog against the real stack: a recipient added to a dataset, their snippet copied and read by the
    official client, their read in the Activity view, then revoked: the same snippet stops reading."""
    app = desktop
    app.find("#email", timeout=60)
    app.type("#email", f"{uuid.uuid4().hex[:10]}@example.com")
    app.type("#password", "correct horse battery")
    app.click("#sign-up")
    app.find("#drop")
    csv = write_csv(tmp_path, "id,city\n1,Zürich\n2,Lyon\n3,Porto\n", "cities.csv")
    app.run("window.deltaBridge.addFiles(arguments[0]);", [str(csv)])
    app.find("#queue table td")
    app.click("#queue .upload")
    app.find("#datasets tr[data-id]", timeout=180)

    app.click("#datasets tr[data-id] .share")
    app.find("#share-dialog")
    app.type("#share-dialog .recipient-name", "Bo Berg")
    app.type("#share-dialog .recipient-email", "bo@example.com")
    app.click("#share-dialog .recipient-add")
    row = '#share-recipients tr[data-name="Bo Berg"]'
    app.find(row, timeout=30)
    assert "never" in app.text(row), app.text(row)  # no expiry chosen, nothing read yet
    app.screenshot("7-share-recipients")

    # Copy snippet copies at once, or, where the web view's clipboard wants a fresh gesture, opens the snippet to copy.
    app.click(f"{row} .copy-snippet")
    assert wait_for(lambda: "load_as_pandas" in clipboard(app.display)
                    or app.run("return document.querySelector('#snippet-dialog') !== null;"), timeout=30)
    if app.run("return document.querySelector('#snippet-dialog') !== null;"):
        app.click("#copy")
        assert wait_for(lambda: "load_as_pandas" in clipboard(app.display), timeout=10), "nothing was copied"
        app.click("#close")
    code = clipboard(app.display)
    df, error = run_snippet({"python": code}, tmp_path / "notebook")
    assert df is not None, error[-2000:]
    assert sorted(df["city"]) == ["Lyon", "Porto", "Zürich"]

    # The read reaches the Activity view (shipped by the sharing server every second, collected by the backend).
    app.click("#share-close")
    app.click("#nav-activity")
    app.find("#activity-since")

    def bo_read():
        app.click("#activity-refresh")
        time.sleep(0.5)
        rows = app.run("return [...document.querySelectorAll('#activity tbody tr')].map(tr => [...tr.cells].map(c => c.innerText.trim()));")
        return any(r[1] == "Bo Berg" and r[2] == "cities" and r[7] == "200" for r in rows)
    assert wait_for(bo_read, timeout=90, interval=2), app.text("#screen")
    app.screenshot("8-activity")

    # Revoked after the confirmation: gone from the dialog, and the snippet they hold stops reading.
    app.click("#nav-datasets")
    # The toasts so far sit over the end of the dataset's row.
    app.run("document.querySelectorAll('.toast .dismiss').forEach(b => b.click());")
    app.click("#datasets tr[data-id] .share")
    app.click(f"{row} .revoke")
    assert "Revoke Bo Berg" in app.text("#confirm-dialog .confirm")
    app.click("#confirm-dialog .confirm")
    assert wait_for(lambda: app.run(f"return document.querySelector('{row}') === null;"), timeout=30)
    assert wait_for(lambda: run_snippet({"python": code}, tmp_path / "after")[0] is None, timeout=60, interval=1), \
        "the revoked recipient's snippet still reads"
