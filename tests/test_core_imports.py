"""The boundary: nothing in routing/ but routing/mitm/ may import mitmproxy."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import routing

ROOT = Path(routing.__file__).parent


def core_modules() -> list[str]:
    mods = []
    for info in pkgutil.walk_packages([str(ROOT)], prefix="routing."):
        if not info.name.startswith("routing.mitm"):
            mods.append(info.name)
    return mods


def test_core_imports_no_mitmproxy():
    mods = core_modules()
    assert "routing.decide" in mods and "routing.extract.saml" in mods
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "bad = sorted(n for n in sys.modules if n == 'mitmproxy' or n.startswith('mitmproxy.'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_addon_file_is_one_line():
    lines = [ln for ln in (ROOT.parent / "sso_router_addon.py").read_text().splitlines() if ln.strip()]
    assert len(lines) == 1 and "routing.mitm.script" in lines[0]


def test_the_model_loads_no_parser():
    """``routing.model`` is plain data: importing it loads neither lxml nor the extractors."""
    code = (
        "import sys, routing.model\n"
        "bad = sorted(n for n in sys.modules if n.startswith(('lxml', 'routing.extract')))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
