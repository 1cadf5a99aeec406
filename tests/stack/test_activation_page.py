"""The activation page a recipient opens from a one-time link, in headless Chromium with JavaScript turned off
(driven by ChromeDriver over the plain W3C WebDriver protocol): it shows the tables and the code, its button
downloads a profile the official client reads, a second visit says the link was used, and neither the credential
nor the link's code reaches the backend's or the sharing server's log."""
import json
import os
import shutil
import subprocess
import time

import pytest
import requests

from conftest import free_port, port_open, stop, wait_for
from test_backend import user
from test_recipients import dataset, grant, rows

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs chromium and chromedriver (scripts/test.sh installs them)")


class Browser:
    """Headless Chromium through ChromeDriver, JavaScript off, downloads into `downloads`."""

    def __init__(self, directory):
        self.downloads = directory / "downloads"
        self.downloads.mkdir(parents=True)
        port = free_port()
        self.log = open(directory / "chromedriver.log", "w")
        self.driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=self.log, stderr=subprocess.STDOUT)
        assert wait_for(lambda: port_open(port), timeout=20), "chromedriver did not start"
        self.url = f"http://127.0.0.1:{port}"
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={directory / 'profile'}"]
        response = requests.post(f"{self.url}/session", json={"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args, "prefs": {
                "download.default_directory": str(self.downloads), "download.prompt_for_download": False,
                "profile.managed_default_content_settings.javascript": 2}}}}}, timeout=120)
        assert response.status_code == 200, response.text
        self.session = f"{self.url}/session/{response.json()['value']['sessionId']}"

    def call(self, method, path, body=None):
        response = requests.request(method, self.session + path, json=body, timeout=60)
        value = response.json().get("value")
        assert response.status_code < 400, f"{method} {path}: {value}"
        return value

    def open(self, url):
        self.call("POST", "/url", {"url": url})

    def text(self):
        body = self.call("POST", "/element", {"using": "css selector", "value": "body"})
        return self.call("GET", f"/element/{list(body.values())[0]}/text")

    def click(self, css):
        element = self.call("POST", "/element", {"using": "css selector", "value": css})
        self.call("POST", f"/element/{list(element.values())[0]}/click", {})

    def quit(self):
        try:
            requests.delete(self.session, timeout=30)
        finally:
            stop(self.driver)


def test_the_activation_page_in_a_browser_gives_a_working_profile_once(local_stack, tmp_path):
    stack = local_stack
    owner = user(stack.emulator)
    sales = dataset(stack, owner, tmp_path, "Sales")
    granted = grant(stack, owner, sales, "kim")
    credential = granted["kim"]["snippet"]["profile"]["bearerToken"]
    table = granted["kim"]["snippet"]["table"]
    link = stack.call("POST", "/recipients/kim/link", owner, json={}).json()["url"]
    code = link.rsplit("/", 1)[1]
    browser = Browser(tmp_path / "browser")
    try:
        browser.open(link)
        text = browser.text()
        assert "Your Delta Sharing profile" in text and table in text, text
        assert "load_as_pandas" in text and "deltaSharing" in text
        assert credential not in text
        browser.click("form button")
        assert wait_for(lambda: [p for p in browser.downloads.glob("*.share")], timeout=20), list(browser.downloads.iterdir())
        profile = next(browser.downloads.glob("*.share"))
        assert profile.name == "kim.share"
        assert json.loads(profile.read_text())["bearerToken"] == credential
        assert wait_for(lambda: rows(str(profile), table) == [1, 2, 3], timeout=10)

        browser.open(link)
        assert "This link was used" in browser.text()
    finally:
        browser.quit()
    time.sleep(0.5)  # let the servers flush their logs
    for log in ("backend.log", "sharing.log"):
        text = (stack.dir / log).read_text()
        assert credential not in text, f"the credential is in {log}"
        assert code not in text, f"the link's code is in {log}"
