"""Signs in the demo user (Firebase Auth emulator), uploads a converted table through the backend
(presign, PUT, process) unless it is there already, shares it and prints the notebook snippet.
(`delta-bridge upload` will do this from the terminal; until then this is the demo's uploader.)

usage: demo_upload.py EMULATOR_URL BACKEND_URL TABLE_DIR NAME SNIPPET_OUT
"""

import hashlib
import pathlib
import sys

import requests

emulator, backend, table, name, out = sys.argv[1:6]
account = {"email": "demo@example.com", "password": "delta-bridge-demo", "returnSecureToken": True}
signed = requests.post(f"{emulator}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=any", json=account, timeout=10)
if signed.status_code != 200:
    signed = requests.post(f"{emulator}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=any", json=account, timeout=10)
signed.raise_for_status()
auth = {"Authorization": f"Bearer {signed.json()['idToken']}"}


def api(method, path, **kwargs):
    response = requests.request(method, backend + path, headers=auth, timeout=60, **kwargs)
    if response.status_code >= 400:
        sys.exit(f"{method} {path}: {response.json()['error']['message']}")
    return response.json()


existing = [d for d in api("GET", "/datasets")["datasets"] if d["name"] == name]
if existing:
    dataset_id = existing[0]["id"]
else:
    files = sorted(pathlib.Path(table).glob("*.parquet"))
    specs = [{"name": f.name, "size": f.stat().st_size, "sha256": hashlib.sha256(f.read_bytes()).hexdigest()} for f in files]
    presigned = api("POST", "/presign", json={"name": name, "files": specs})
    for path, upload in zip(files, presigned["files"]):
        requests.put(upload["url"], data=path.read_bytes(), timeout=60).raise_for_status()
    dataset_id = api("POST", "/process", json={"uploadId": presigned["uploadId"], "mode": "create"})["id"]
snippet = api("POST", "/share", json={"datasetId": dataset_id})["snippet"]
pathlib.Path(out).write_text(snippet["python"])
print(snippet["table"])
