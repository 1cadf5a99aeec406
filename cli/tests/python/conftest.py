"""The delta-bridge binary (DELTA_BRIDGE_CLI_BIN, set by scripts/test.sh)."""

import json
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
BIN = os.environ.get("DELTA_BRIDGE_CLI_BIN", str(REPO / "target/debug/delta-bridge"))


class Cli:
    def run(self, *args, check=True):
        result = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"delta-bridge {' '.join(map(str, args))} failed ({result.returncode}): {result.stderr}")
        return result

    def convert(self, csv, out, *extra):
        return json.loads(self.run("convert", csv, "--out", out, "--json", *extra).stdout)


@pytest.fixture(scope="session")
def cli():
    return Cli()
