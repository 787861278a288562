"""TOML bytes -> validated, indexed ``Mapping``. Every error names its key."""

from __future__ import annotations

import gc
import hashlib
import ipaddress
import re
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

# TOML parsers, fastest first: a 100,000-org mapping (16 MB) costs rtoml ~0.75 s of CPU,
# tomli's compiled wheels ~1.8 s, the stdlib's pure-Python tomllib ~30 s.
try:
    import rtoml

    def _parse_toml(text: str) -> dict[str, Any]:
        try:
            return rtoml.loads(text)
        except rtoml.TomlParsingError as e:
            raise ValueError(str(e)) from e
except ImportError:  # pragma: no cover
    try:
        import tomli as _toml
    except ImportError:
        import tomllib as _toml  # type: ignore[no-redef]

    def _parse_toml(text: str) -> dict[str, Any]:
        try:
            return _toml.loads(text)
        except _toml.TOMLDecodeError as e:
            raise ValueError(str(e)) from e

from .ca_file import read_ca_file
from .errors import MappingError
from .limits import Limits
from .view import host_of
from .model import (PROVIDER_KINDS, AdminSettings, CanarySettings, Mapping, Network, OrgRow, OrgTable, Provider,
                    RouterSettings, Upstream)

_ROUTER_KEYS = {
    "public_url", "default_provider", "force_header", "migration_target", "correlation_ttl",
    "token_ttl", "debug_headers", "shadow", "force_header_secret", "hosts", "limits", "admin", "canary",
}
_ADMIN_KEYS = {"allow", "trusted_proxies"}
_CANARY_KEYS = {"enabled", "window", "min_attempts", "max_failure_ratio"}
_LIMIT_KEYS = {"max_body", "max_inflate", "max_jwt"}
_PROVIDER_KEYS = {"kind", "upstream", "app_callback", "headers", "paths", "host_header", "sni", "client_ip_header",
                  "ca_file"}
_ORG_LISTS = ("domains", "idp_entity_ids", "oidc_issuers", "connections", "org_ids", "client_ids", "test_users",
              "directories", "scim_token_sha256")
_ORG_KEYS = frozenset({"migrated", "target_paths", *_ORG_LISTS})
_INDEXES = ("domain", "test_user", "org_id", "connection", "entity_id", "issuer", "client_id", "directory",
            "scim_token")
_EXACT_INDEXES = (("org_ids", "org_id"), ("connections", "connection"), ("idp_entity_ids", "entity_id"),
                  ("oidc_issuers", "issuer"), ("client_ids", "client_id"), ("directories", "directory"))
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_KIND_OF = dict(_EXACT_INDEXES)
_LIST_SLOT = {field: i for i, field in enumerate(_ORG_LISTS)}  # position in Org after key and migrated
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name


STREAM_ABOVE = 1 << 20  # bytes of TOML above which orgs are parsed and built chunk by chunk
CHUNK_BYTES = 1 << 19  # about this much TOML per parsed chunk


def _shown(url: str) -> str:
    """A URL as an error message may quote it: its user and password left out."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    return scheme + sep + netloc.rpartition("@")[2] + slash + path if sep else url


class _Fallback(Exception):
    """The streamed fast path met something it does not handle; use the whole-document path."""


def _chunks(text: str):
    """The document cut about every CHUNK_BYTES, each cut just before a line that starts a [table].
    A [header] names its table by absolute path, so each piece is a TOML document of its own,
    unless a cut falls inside a multi-line string or array: then the piece before it does not
    parse, and the caller falls back to the whole document."""
    start, n = 0, len(text)
    while start < n:
        cut = start + CHUNK_BYTES
        while cut < n:
            cut = text.find("\n[", cut)
            if cut < 0:
                cut = n
            elif text.startswith("[[", cut + 1):  # an array of tables: look for the next header
                cut += 2
                continue
            else:
                cut += 1
            break
        yield text[start:min(cut, n)]
        start = cut


def load_mapping_file(path: str) -> Mapping:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise MappingError("", f"cannot read mapping {path}: {e.strerror or e}") from e
    return load_mapping(data)


def load_mapping(data: bytes) -> Mapping:
    # A big mapping is hundreds of thousands of small containers: with the cyclic GC running,
    # each generation-2 pass walks all of them again. Nothing built here forms a cycle.
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
                return _Builder({}, text).build_streamed(version)
            except _Fallback:
                pass  # anything unusual: the exact whole-document path below decides (and words the error)
        try:
            doc = _parse_toml(text)
        except ValueError as e:
            raise MappingError("", f"invalid TOML: {e}") from e
        mapping = _Builder(doc, text).build(version)
        del doc
        untrack_built()
        return mapping
    finally:
        if paused:
            gc.enable()


def untrack_built() -> None:
    """Hand what was just built to the cyclic GC to untrack (``model.OrgRow`` says why it can): a
    pass over the youngest generation untracks the rows' tuples of strings, a pass over the next one
    the rows themselves (the first pass leaves each row ahead of its tuples, so it sees the row
    still holding tracked ones). Done after each chunk, each pass is a few milliseconds; left to
    the GC, the first one would walk a whole 100,000-org mapping at once (~200 ms, see bench/README.md)."""
    gc.collect(0)
    gc.collect(1)


class _Builder:
    def __init__(self, doc: dict[str, Any], text: str) -> None:
        self.doc = doc
        self.text = text

    # -- error helpers ------------------------------------------------------------
    def fail(self, key: str, msg: str) -> MappingError:
        return MappingError(key, msg, self._line_of(key))

    def _line_of(self, key: str) -> int | None:
        """Best effort: the line of the key inside its table, else of the table's header."""
        table, field = "", key
        for section in ("orgs", "providers", "router"):
            names = (["limits", "admin", "canary", ""] if section == "router"
                     else sorted(self.doc.get(section, {}), key=len, reverse=True))
            for name in names:
                for prefix, header in ((f'{section}."{name}"', f'[{section}."{name}"]'),
                                       (f"{section}.{name}", f"[{section}.{name}]")) if name else ((section, f"[{section}]"),):
                    if key == prefix or key.startswith(prefix + "."):
                        table, field = header, key[len(prefix) + 1:].split(".")[0].split("[")[0]
                        break
                if table:
                    break
            if table:
                break
        lines = [ln.strip() for ln in self.text.splitlines()]
        want = table.replace(" ", "")
        start = next((i for i, ln in enumerate(lines) if ln.split("#", 1)[0].replace(" ", "") == want), None)
        if start is None:
            return None
        for i in range(start + 1, len(lines)):
            if lines[i].startswith("["):
                break
            if field and lines[i].split("=")[0].strip().strip('"') == field:
                return i + 1
        return start + 1

    def table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def unknown(self, table: dict[str, Any], allowed: set[str], key: str) -> None:
        for k in table:
            if k not in allowed:
                raise self.fail(f"{key}.{k}" if key else k, "unknown key")

    def str_(self, t: dict[str, Any], k: str, key: str, default: str = "") -> str:
        v = t.get(k, default)
        if not isinstance(v, str):
            raise self.fail(f"{key}.{k}", f"must be a string, not {type(v).__name__}")
        return v.strip()

    def bool_(self, t: dict[str, Any], k: str, key: str, default: bool = False) -> bool:
        v = t.get(k, default)
        if not isinstance(v, bool):
            raise self.fail(f"{key}.{k}", f"must be true or false, not {v!r}")
        return v

    def int_(self, t: dict[str, Any], k: str, key: str, default: int) -> int:
        v = t.get(k, default)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise self.fail(f"{key}.{k}", f"must be a positive integer, not {v!r}")
        return v

    def strs(self, t: dict[str, Any], k: str, key: str) -> tuple[str, ...]:
        v = t.get(k)
        if v is None:
            return ()
        if type(v) is list:
            out = [x.strip() for x in v if type(x) is str]
            if len(out) == len(v) and all(out):
                return tuple(out) if len(out) < 2 else tuple(dict.fromkeys(out))
        raise self.fail(f"{key}.{k}", "must be a list of non-empty strings")

    def url(self, value: str, key: str, *, origin_only: bool) -> Upstream:
        try:
            u = urlsplit(value)
            port = u.port
        except ValueError as e:
            raise self.fail(key, f"bad URL {_shown(value)!r}: {e}") from e
        if u.scheme not in ("http", "https") or not u.hostname:
            raise self.fail(key, f"bad URL {_shown(value)!r}: want http(s)://host[:port]")
        if origin_only and (u.path not in ("", "/") or u.query or u.fragment or u.username):
            why = "no user or password in it" if u.username or u.password else "no path"
            raise self.fail(key, f"bad URL {_shown(value)!r}: want scheme://host[:port] with {why}")
        return Upstream(u.scheme, u.hostname.lower(), port or (443 if u.scheme == "https" else 80))

    # -- sections -----------------------------------------------------------------
    def build(self, version: str) -> Mapping:
        self.unknown(self.doc, {"router", "providers", "orgs"}, "")
        providers = self.providers(self.table(self.doc.get("providers", {}), "providers"))
        settings = self.router(self.table(self.doc.get("router", {}), "router"), providers)
        orgs = self.orgs(self.table(self.doc.get("orgs", {}), "orgs"))
        return self.index(settings, providers, orgs, version)

    def build_streamed(self, version: str) -> Mapping:
        """The same result as ``build`` for a big mapping, parsing and building chunk by chunk so
        only one chunk's parse tree is alive at a time. Raises ``_Fallback`` on anything unusual."""
        rest: dict[str, Any] = {}
        self._start_orgs()
        try:
            for chunk in _chunks(self.text):
                try:
                    doc = _parse_toml(chunk)
                except ValueError as e:
                    raise _Fallback from e
                self._take(doc, rest)
                del doc  # the chunk's parse tree goes here, before the GC passes over what was built
                untrack_built()
            self.doc = {**rest, "orgs": {}}
            self.unknown(self.doc, {"router", "providers", "orgs"}, "")
            providers = self.providers(self.table(rest.get("providers", {}), "providers"))
            settings = self.router(self.table(rest.get("router", {}), "router"), providers)
            return self.index(settings, providers, self._orgs, version)
        except MappingError as e:
            raise _Fallback from e  # the whole-document path words the error, with its line

    def _take(self, doc: dict[str, Any], rest: dict[str, Any]) -> None:
        """One chunk's orgs built and indexed; its other tables kept in ``rest``."""
        for k, v in doc.items():
            if k == "orgs":
                if type(v) is not dict:
                    raise _Fallback
                for name, o in v.items():
                    if name in self._orgs:  # one org's tables spread over two chunks
                        raise _Fallback
                    self._org(name, o)
            elif k not in rest:
                rest[k] = v
            else:  # [router] or [providers.*] in two chunks: only the whole document can tell
                raise _Fallback  # a legal split from a table defined twice

    def router(self, t: dict[str, Any], providers: dict[str, Provider]) -> RouterSettings:
        self.unknown(t, _ROUTER_KEYS, "router")
        if "public_url" not in t:
            raise self.fail("router.public_url", "is required")
        pub = self.url(self.str_(t, "public_url", "router"), "router.public_url", origin_only=True)
        names = sorted(providers)
        default = self.str_(t, "default_provider", "router", "legacy")
        target = self.str_(t, "migration_target", "router", "scalekit")
        for k, v in (("default_provider", default), ("migration_target", target)):
            if v not in providers:
                raise self.fail(f"router.{k}", f"unknown provider {v!r} (known: {', '.join(names) or 'none'})")
        force = self.str_(t, "force_header", "router", "x-force-sk-route").lower()
        if force and not _TOKEN.match(force):
            raise self.fail("router.force_header", f"not a header name: {force!r}")
        hosts = {pub.host}
        for i, h in enumerate(self.strs(t, "hosts", "router")):
            name = host_of(h.split("://", 1)[-1].split("/", 1)[0])
            if not name:
                raise self.fail(f"router.hosts[{i}]", f"not a host name: {h!r}")
            hosts.add(name)
        lt = self.table(t.get("limits", {}), "router.limits")
        self.unknown(lt, _LIMIT_KEYS, "router.limits")
        d = Limits()
        limits = Limits(
            max_body=self.int_(lt, "max_body", "router.limits", d.max_body),
            max_inflate=self.int_(lt, "max_inflate", "router.limits", d.max_inflate),
            max_jwt=self.int_(lt, "max_jwt", "router.limits", d.max_jwt),
        )
        return RouterSettings(
            admin=self.admin(self.table(t.get("admin", {}), "router.admin")),
            canary=self.canary(self.table(t.get("canary", {}), "router.canary")),
            public_url=pub.url,
            public_scheme=pub.scheme,
            public_netloc=pub.netloc,
            default_provider=default,
            migration_target=target,
            force_header=force,
            force_header_secret=self.str_(t, "force_header_secret", "router"),
            correlation_ttl=self.int_(t, "correlation_ttl", "router", 900),
            token_ttl=self.int_(t, "token_ttl", "router", 86_400),
            debug_headers=self.bool_(t, "debug_headers", "router"),
            shadow=self.bool_(t, "shadow", "router"),
            hosts=frozenset(hosts),
            limits=limits,
        )

    def networks(self, t: dict[str, Any], k: str, key: str, default: tuple[Network, ...]) -> tuple[Network, ...]:
        if k not in t:
            return default
        out = []
        for i, v in enumerate(self.strs(t, k, key)):
            try:
                out.append(ipaddress.ip_network(v, strict=False))
            except ValueError:
                raise self.fail(f"{key}.{k}[{i}]", f"not an address or CIDR network: {v!r}") from None
        return tuple(out)

    def admin(self, t: dict[str, Any]) -> AdminSettings:
        self.unknown(t, _ADMIN_KEYS, "router.admin")
        d = AdminSettings()
        return AdminSettings(allow=self.networks(t, "allow", "router.admin", d.allow),
                             trusted_proxies=self.networks(t, "trusted_proxies", "router.admin", d.trusted_proxies))

    def canary(self, t: dict[str, Any]) -> CanarySettings:
        self.unknown(t, _CANARY_KEYS, "router.canary")
        d = CanarySettings()
        ratio = t.get("max_failure_ratio", d.max_failure_ratio)
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            raise self.fail("router.canary.max_failure_ratio", f"must be a number from 0 to 1, not {ratio!r}")
        return CanarySettings(
            enabled=self.bool_(t, "enabled", "router.canary", d.enabled),
            window=self.int_(t, "window", "router.canary", d.window),
            min_attempts=self.int_(t, "min_attempts", "router.canary", d.min_attempts),
            max_failure_ratio=float(ratio),
        )

    def providers(self, t: dict[str, Any]) -> dict[str, Provider]:
        out: dict[str, Provider] = {}
        for name, raw in t.items():
            key = f"providers.{name}"
            p = self.table(raw, key)
            self.unknown(p, _PROVIDER_KEYS, key)
            kind = self.str_(p, "kind", key, "generic")
            if kind not in PROVIDER_KINDS:
                raise self.fail(f"{key}.kind", f"unknown kind {kind!r} (one of {', '.join(sorted(PROVIDER_KINDS))})")
            if "upstream" not in p:
                raise self.fail(f"{key}.upstream", "is required")
            upstream = self.url(self.str_(p, "upstream", key), f"{key}.upstream", origin_only=True)
            callback = self.str_(p, "app_callback", key)
            if callback:
                self.url(callback, f"{key}.app_callback", origin_only=False)
            headers = self.table(p.get("headers", {}), f"{key}.headers")
            for hk, hv in headers.items():
                if not _TOKEN.match(hk) or not isinstance(hv, str) or "\n" in hv or "\r" in hv:
                    raise self.fail(f"{key}.headers.{hk}", "want a header name = string value")
            paths = []
            for i, pre in enumerate(self.strs(p, "paths", key)):
                if not pre.startswith("/"):
                    raise self.fail(f"{key}.paths[{i}]", f"path prefix must start with '/': {pre!r}")
                paths.append(pre.rstrip("/") or "/")
            cip = self.str_(p, "client_ip_header", key)
            if cip and not _TOKEN.match(cip):
                raise self.fail(f"{key}.client_ip_header", f"not a header name: {cip!r}")
            ca_file, ca_pem = self.ca_file(p, key, upstream)
            out[name] = Provider(
                name=name, kind=kind, upstream=upstream, app_callback=callback,
                headers=tuple((k, v) for k, v in headers.items()), paths=tuple(paths),
                host_header=self.str_(p, "host_header", key), sni=self.str_(p, "sni", key),
                client_ip_header=cip, ca_file=ca_file, ca_pem=ca_pem,
            )
        if not out:
            raise self.fail("providers", "at least one provider is required")
        return out

    def ca_file(self, p: dict[str, Any], key: str, upstream: Upstream) -> tuple[str, bytes]:
        path = self.str_(p, "ca_file", key)
        if not path:
            return "", b""
        if upstream.scheme != "https":
            raise self.fail(f"{key}.ca_file", f"is for an https:// upstream, not {upstream.url}")
        try:
            return path, read_ca_file(path)
        except ValueError as e:
            raise self.fail(f"{key}.ca_file", str(e)) from None

    def orgs(self, t: dict[str, Any]) -> dict[str, OrgRow]:
        """Validate every org and index its identifiers in one pass. Fills ``self.idx``."""
        self._start_orgs()
        for name, o in t.items():
            self._org(name, o)
        return self._orgs

    def _start_orgs(self) -> None:
        self._orgs: dict[str, OrgRow] = {}
        self.idx = {k: {} for k in _INDEXES}
        self._by_domain, self._by_user = self.idx["domain"], self.idx["test_user"]
        self._exact = tuple((_LIST_SLOT[field], self.idx[kind], field) for field, kind in _EXACT_INDEXES)

    def _org(self, name: str, o: Any) -> None:
        """One org: validated, built, indexed. The hot loop of a 100,000-org mapping: the happy
        path does only what it must; anything odd is handed to ``_org_error`` to be worded."""
        if type(o) is not dict or not o.keys() <= _ORG_KEYS:
            raise self._org_error(name, o)
        migrated = o.get("migrated", False)
        if migrated is not True and migrated is not False:
            raise self._org_error(name, o)
        vals: list[tuple[str, ...]] = [(), (), (), (), (), (), (), (), ()]  # in _ORG_LISTS order
        for k, v in o.items():
            i = _LIST_SLOT.get(k)
            if i is None:
                continue
            try:
                out = tuple([x.strip() for x in v]) if type(v) is list else None
            except AttributeError:  # an element that is not a string
                out = None
            if out is None or "" in out:
                raise self._org_error(name, o)
            vals[i] = out
        if vals[8]:  # scim_token_sha256: hex digests, compared lower-case
            if not all(_SHA256_HEX.match(h) for h in vals[8]):
                raise self._org_error(name, o)
            vals[8] = tuple(h.lower() for h in vals[8])
        tp = o.get("target_paths")
        paths: tuple[str, ...] = ()
        if tp is not None:
            if type(tp) is not dict or not all(
                    type(d) is str and k.startswith("/") and d.startswith("/") for k, d in tp.items()):
                raise self._org_error(name, o)
            paths = tuple(x for pair in tp.items() for x in pair)  # model.OrgRow says why flat
        self._orgs[name] = (name, migrated, *vals, paths)  # an OrgRow (model.py says why not an Org)
        dom = self._by_domain
        for d in (name, *vals[0]):
            low = d.lower()
            if dom.setdefault(low, name) != name:
                raise self._conflict("domain", low, name, "domains")
        for u in vals[6]:
            low = u.lower()
            if self._by_user.setdefault(low, name) != name:
                raise self._conflict("test_user", low, name, "test_users")
        for i, index, field in self._exact:
            for v in vals[i]:
                if index.setdefault(v, name) != name:
                    raise self._conflict(_KIND_OF[field], v, name, field)
        scim = self.idx["scim_token"]
        for h in vals[8]:
            if scim.setdefault(h, name) != name:
                raise self._conflict("scim_token", h, name, "scim_token_sha256")

    def _org_error(self, name: str, o: Any) -> MappingError:
        """The precise error for an org the fast path refused (the checks again, one by one)."""
        key = f'orgs."{name}"'
        if type(o) is not dict:
            return self.fail(key, "must be a table")
        self.unknown(o, _ORG_KEYS, key)
        migrated = o.get("migrated", False)
        if type(migrated) is not bool:
            return self.fail(f"{key}.migrated", f"must be true or false, not {migrated!r}")
        for field in _ORG_LISTS:
            self.strs(o, field, key)
        for i, h in enumerate(self.strs(o, "scim_token_sha256", key)):
            if not _SHA256_HEX.match(h):
                return self.fail(f"{key}.scim_token_sha256[{i}]", "want the SHA-256 of a token as 64 hex digits")
        tp = self.table(o.get("target_paths", {}), f"{key}.target_paths")
        for src, dst in tp.items():
            if not src.startswith("/") or not isinstance(dst, str) or not dst.startswith("/"):
                return self.fail(f"{key}.target_paths.{src}", "want \"/legacy/path\" = \"/target/path\"")
        return self.fail(key, "invalid")  # pragma: no cover — the fast path refused something the slow one allows

    def _conflict(self, kind: str, value: str, org: str, field: str) -> MappingError:
        return self.fail(f'orgs."{org}".{field}', f"{value!r} is already claimed by org {self.idx[kind][value]!r}")

    def index(self, settings: RouterSettings, providers: dict[str, Provider], orgs: dict[str, OrgRow],
              version: str) -> Mapping:
        idx = self.idx
        by_path: dict[str, str] = {}
        for p in providers.values():
            for pre in p.paths:
                owner = by_path.setdefault(pre, p.name)
                if owner != p.name:
                    raise self.fail(f"providers.{p.name}.paths", f"prefix {pre!r} is already claimed by provider {owner!r}")
        ro = MappingProxyType
        return Mapping(
            settings=settings, providers=ro(providers), orgs=OrgTable(orgs),
            by_domain=ro(idx["domain"]), by_test_user=ro(idx["test_user"]), by_org_id=ro(idx["org_id"]),
            by_connection=ro(idx["connection"]), by_entity_id=ro(idx["entity_id"]), by_issuer=ro(idx["issuer"]),
            by_client_id=ro(idx["client_id"]), by_directory=ro(idx["directory"]), by_scim_token=ro(idx["scim_token"]),
            by_path=ro(by_path), version=version,
        )
