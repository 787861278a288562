import json
import os
import pathlib
import subprocess
import sys

import pytest

from . import captures

BIN = pathlib.Path(sys.executable).with_name("sso-router")


def run(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k not in ("SSO_ROUTER_MAPPING", "SSO_ROUTER_SECRET")}
    e.update(env or {})
    return subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=e, timeout=60)


@pytest.fixture
def mapping(tmp_path) -> pathlib.Path:
    p = tmp_path / "mapping.toml"
    p.write_text(captures.MAPPING)
    return p


@pytest.fixture
def flow_file(tmp_path) -> pathlib.Path:
    p = tmp_path / "login.mitm"
    captures.write_flow_file(p, captures.login_steps())
    return p


@pytest.fixture
def har_file(tmp_path) -> pathlib.Path:
    p = tmp_path / "login.har"
    p.write_text(json.dumps(captures.har_document(captures.login_steps(), cookies=True)))
    return p


def rows(stdout: str) -> list[tuple]:
    return [
        (r["method"], r["path"], r["provider"], r["reason"], r["org"]) for r in map(json.loads, stdout.splitlines())
    ]
