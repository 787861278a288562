"""TOML bytes -> a validated, indexed ``Mapping``. Every error names its key (and line).

The package: ``toml`` (parsing; big documents in pieces), ``schema`` (what each table may say, as
data), ``checks`` (typed reads that refuse with the key and line, ``lines``), ``sections``
(``[router]`` and ``[providers.*]``), ``orgs`` (every org built and indexed in one pass). A big
mapping is parsed and built chunk by chunk, so only one chunk's parse tree is alive at a time;
anything unusual there falls back to the whole-document path, which words the error exactly.
"""

from __future__ import annotations

import gc
import hashlib
from types import MappingProxyType
from typing import Any

from ..errors import MappingError
from ..model import Mapping, OrgTable, Provider, RouterSettings
from .checks import Checker
from .orgs import OrgIndex
from .schema import TOP_KEYS
from .sections import providers as read_providers
from .sections import router as read_router
from .toml import chunks, parse_toml

__all__ = ["CHUNK_BYTES", "STREAM_ABOVE", "load_mapping", "load_mapping_file"]

STREAM_ABOVE = 1 << 20  # bytes of TOML above which orgs are parsed and built chunk by chunk
CHUNK_BYTES = 1 << 19  # about this much TOML per parsed chunk


class _Fallback(Exception):
    """The streamed path met something it does not handle; the whole-document path decides."""


def load_mapping_file(path: str) -> Mapping:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise MappingError("", f"cannot read mapping {path}: {e.strerror or e}") from e
    return load_mapping(data)


def load_mapping(data: bytes) -> Mapping:
    # hundreds of thousands of small containers: the cyclic GC is paused while they are built (nothing
    # here forms a cycle), then hands them back untracked (untrack_built)
    paused = gc.isenabled()
    gc.disable()
    try:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MappingError("", "mapping is not UTF-8") from e
        version = hashlib.sha256(data).hexdigest()[:16]
        if len(text) > STREAM_ABOVE:
            try:
                return _streamed(text, version)
            except _Fallback:
                pass  # anything unusual: the whole-document path below decides (and words the error)
        try:
            doc = parse_toml(text)
        except ValueError as e:
            raise MappingError("", f"invalid TOML: {e}") from e
        mapping = _whole(doc, text, version)
        del doc
        untrack_built()
        return mapping
    finally:
        if paused:
            gc.enable()


def untrack_built() -> None:
    """Hand what was just built to the cyclic GC to untrack (``model.OrgRow`` says why it can): a
    pass over the youngest generation untracks the rows' tuples of strings, a pass over the next one
    the rows themselves. Done per chunk, each pass is short; left to the GC, the first one would walk
    a whole big mapping at once (bench/README.md)."""
    gc.collect(0)
    gc.collect(1)


def _whole(doc: dict[str, Any], text: str, version: str) -> Mapping:
    c = Checker(doc, text)
    c.unknown(doc, TOP_KEYS, "")
    providers = read_providers(c, c.table(doc.get("providers", {}), "providers"))
    settings = read_router(c, c.table(doc.get("router", {}), "router"), providers)
    orgs = OrgIndex(c)
    for name, o in c.table(doc.get("orgs", {}), "orgs").items():
        orgs.add(name, o)
    return _assemble(c, settings, providers, orgs, version)


def _streamed(text: str, version: str) -> Mapping:
    """``_whole``'s result for a big mapping, built chunk by chunk. Raises ``_Fallback``."""
    rest: dict[str, Any] = {}
    c = Checker({}, text)
    orgs = OrgIndex(c)
    try:
        for chunk in chunks(text, CHUNK_BYTES):
            try:
                doc = parse_toml(chunk)
            except ValueError as e:
                raise _Fallback from e
            _take(doc, rest, orgs)
            del doc  # the chunk's parse tree goes before the GC passes over what was built
            untrack_built()
        c.doc = {**rest, "orgs": {}}
        c.unknown(c.doc, TOP_KEYS, "")
        providers = read_providers(c, c.table(rest.get("providers", {}), "providers"))
        settings = read_router(c, c.table(rest.get("router", {}), "router"), providers)
        return _assemble(c, settings, providers, orgs, version)
    except MappingError as e:
        raise _Fallback from e  # the whole-document path words the error, with its line


def _take(doc: dict[str, Any], rest: dict[str, Any], orgs: OrgIndex) -> None:
    """One chunk's orgs built and indexed; its other tables kept in ``rest``."""
    for k, v in doc.items():
        if k == "orgs":
            if type(v) is not dict:
                raise _Fallback
            for name, o in v.items():
                if name in orgs.rows:  # one org's tables spread over two chunks
                    raise _Fallback
                orgs.add(name, o)
        elif k not in rest:
            rest[k] = v
        else:  # [router] or [providers.*] in two chunks: only the whole document can tell
            raise _Fallback  # a legal split from a table defined twice


def _assemble(
    c: Checker, settings: RouterSettings, providers: dict[str, Provider], orgs: OrgIndex, version: str
) -> Mapping:
    by_path: dict[str, str] = {}
    for p in providers.values():
        for pre in p.paths:
            owner = by_path.setdefault(pre, p.name)
            if owner != p.name:
                raise c.fail(f"providers.{p.name}.paths", f"prefix {pre!r} is already claimed by provider {owner!r}")
    idx, ro = orgs.idx, MappingProxyType
    return Mapping(
        settings=settings,
        providers=ro(providers),
        orgs=OrgTable(orgs.rows),
        by_domain=ro(idx["domain"]),
        by_test_user=ro(idx["test_user"]),
        by_org_id=ro(idx["org_id"]),
        by_connection=ro(idx["connection"]),
        by_entity_id=ro(idx["entity_id"]),
        by_issuer=ro(idx["issuer"]),
        by_client_id=ro(idx["client_id"]),
        by_directory=ro(idx["directory"]),
        by_scim_token=ro(idx["scim_token"]),
        by_path=ro(by_path),
        version=version,
    )
