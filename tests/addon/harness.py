"""The addon in-process, the way mitmproxy's own addon tests drive theirs: a router in a
``taddons.context``, flows from ``tflow``, hooks called directly (and awaited when they return a
coroutine, as mitmproxy does). Each router gets its own ``ProcessState``: its own memory store and
random key, never the process-wide ones a script reload keeps."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from pathlib import Path

from mitmproxy import http
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.test import taddons, tflow

from routing.mitm.addon import SSORouter
from routing.mitm.process import ProcessState
from tests.unit.samples import MAPPING

SECRET = "s3cret"


def write_mapping(path: Path, extra_router: bytes = b"debug_headers = true", mapping: bytes = MAPPING) -> Path:
    """The unit samples' mapping with ``extra_router`` lines added to ``[router]``."""
    path.write_bytes(mapping.replace(b'hosts = ["localhost"]', b'hosts = ["localhost"]\n' + extra_router))
    return path


@contextlib.contextmanager
def routing(
    mapping_file: Path,
    *,
    router: SSORouter | None = None,
    process: ProcessState | None = None,
    secret: str | None = SECRET,
    **options: object,
) -> Iterator[tuple[SSORouter, taddons.context]]:
    """``with routing(mapping) as (router, tctx):`` a router (a new one unless given) configured as
    ``--set`` would."""
    router = router or SSORouter(process or ProcessState())
    with taddons.context(Proxyserver(), router) as tctx:
        if secret is not None:
            options["sso_secret"] = secret
        tctx.configure(router, sso_mapping=str(mapping_file), **options)
        yield router, tctx


async def hook(fn, *args) -> None:
    """Call an addon hook as mitmproxy does: await what it returns if that is awaitable."""
    res = fn(*args)
    if res is not None and inspect.isawaitable(res):
        await res


def make_flow(
    path: str = "/", method: str = "GET", host: str = "auth.yourapp.com", body: bytes = b"", headers=()
) -> http.HTTPFlow:
    req = http.Request.make(method, f"https://legacy.invalid{path}", body, {"Host": host, **dict(headers or ())})
    req.host_header = host
    return tflow.tflow(req=req)


FORM = [("content-type", "application/x-www-form-urlencoded")]
