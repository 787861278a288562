"""TOML bytes -> validated, indexed ``Mapping``. Every error names its key."""

from __future__ import annotations

import gc
import hashlib
import re
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

try:  # tomli's wheels are compiled (mypyc): ~10x the stdlib's pure-Python tomllib on big mappings
    import tomli as tomllib
except ImportError:  # pragma: no cover
    import tomllib  # type: ignore[no-redef]

from .errors import MappingError
from .extract.limits import Limits
from .model import _NO_PATHS, PROVIDER_KINDS, Mapping, Org, Provider, RouterSettings, Upstream

_ROUTER_KEYS = {
    "public_url", "default_provider", "force_header", "migration_target", "correlation_ttl",
    "token_ttl", "debug_headers", "shadow", "force_header_secret", "hosts", "limits",
}
_LIMIT_KEYS = {"max_body", "max_inflate", "max_jwt"}
_PROVIDER_KEYS = {"kind", "upstream", "app_callback", "headers", "paths", "host_header", "sni", "client_ip_header"}
_ORG_LISTS = ("domains", "idp_entity_ids", "oidc_issuers", "connections", "org_ids", "client_ids", "test_users")
_ORG_KEYS = frozenset({"migrated", "target_paths", *_ORG_LISTS})
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name


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
            doc = tomllib.loads(text)
        except UnicodeDecodeError as e:
            raise MappingError("", "mapping is not UTF-8") from e
        except tomllib.TOMLDecodeError as e:
            raise MappingError("", f"invalid TOML: {e}") from e
        return _Builder(doc, text).build(hashlib.sha256(data).hexdigest()[:16])
    finally:
        if paused:
            gc.enable()


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
            for name in ([""] if section == "router" else sorted(self.doc.get(section, {}), key=len, reverse=True)):
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
        start = next((i for i, ln in enumerate(lines) if ln.replace(" ", "") == table.replace(" ", "")), None)
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
            raise self.fail(key, f"bad URL {value!r}: {e}") from e
        if u.scheme not in ("http", "https") or not u.hostname:
            raise self.fail(key, f"bad URL {value!r}: want http(s)://host[:port]")
        if origin_only and (u.path not in ("", "/") or u.query or u.fragment or u.username):
            raise self.fail(key, f"bad URL {value!r}: want scheme://host[:port] with no path")
        return Upstream(u.scheme, u.hostname.lower(), port or (443 if u.scheme == "https" else 80))

    # -- sections -----------------------------------------------------------------
    def build(self, version: str) -> Mapping:
        self.unknown(self.doc, {"router", "providers", "orgs"}, "")
        providers = self.providers(self.table(self.doc.get("providers", {}), "providers"))
        settings = self.router(self.table(self.doc.get("router", {}), "router"), providers)
        orgs = self.orgs(self.table(self.doc.get("orgs", {}), "orgs"))
        return self.index(settings, providers, orgs, version)

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
            name = h.lower()
            name = name.split("://", 1)[-1].split("/", 1)[0]
            name = name[1:].split("]")[0] if name.startswith("[") else name.rsplit(":", 1)[0] if name.count(":") == 1 else name
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
            out[name] = Provider(
                name=name, kind=kind, upstream=upstream, app_callback=callback,
                headers=tuple((k, v) for k, v in headers.items()), paths=tuple(paths),
                host_header=self.str_(p, "host_header", key), sni=self.str_(p, "sni", key),
                client_ip_header=cip,
            )
        if not out:
            raise self.fail("providers", "at least one provider is required")
        return out

    def orgs(self, t: dict[str, Any]) -> dict[str, Org]:
        out: dict[str, Org] = {}
        strs = self.strs
        for name, o in t.items():  # the hot loop of a 100,000-org mapping: checks inlined
            key = f'orgs."{name}"'
            if type(o) is not dict:
                raise self.fail(key, "must be a table")
            if not o.keys() <= _ORG_KEYS:
                self.unknown(o, _ORG_KEYS, key)
            migrated = o.get("migrated", False)
            if type(migrated) is not bool:
                raise self.fail(f"{key}.migrated", f"must be true or false, not {migrated!r}")
            tp = o.get("target_paths")
            paths = _NO_PATHS
            if tp is not None:
                tp = self.table(tp, f"{key}.target_paths")
                for src, dst in tp.items():
                    if not src.startswith("/") or not isinstance(dst, str) or not dst.startswith("/"):
                        raise self.fail(f"{key}.target_paths.{src}", "want \"/legacy/path\" = \"/target/path\"")
                paths = MappingProxyType(dict(tp))
            out[name] = Org(name, migrated, strs(o, "domains", key), strs(o, "idp_entity_ids", key),
                            strs(o, "oidc_issuers", key), strs(o, "connections", key), strs(o, "org_ids", key),
                            strs(o, "client_ids", key), strs(o, "test_users", key), paths)
        return out

    def index(self, settings: RouterSettings, providers: dict[str, Provider], orgs: dict[str, Org], version: str) -> Mapping:
        idx: dict[str, dict[str, str]] = {k: {} for k in
                                          ("domain", "test_user", "org_id", "connection", "entity_id", "issuer", "client_id")}

        def conflict(kind: str, value: str, org: str, field: str) -> MappingError:
            return self.fail(f'orgs."{org}".{field}', f"{value!r} is already claimed by org {idx[kind][value]!r}")

        by_domain, by_user = idx["domain"], idx["test_user"]
        others = (("org_ids", "org_id"), ("connections", "connection"), ("idp_entity_ids", "entity_id"),
                  ("oidc_issuers", "issuer"), ("client_ids", "client_id"))
        for o in orgs.values():
            k = o.key
            if by_domain.setdefault(k.lower(), k) != k:
                raise conflict("domain", k.lower(), k, "domains")
            for d in o.domains:
                if by_domain.setdefault(d.lower(), k) != k:
                    raise conflict("domain", d.lower(), k, "domains")
            for u in o.test_users:
                if by_user.setdefault(u.lower(), k) != k:
                    raise conflict("test_user", u.lower(), k, "test_users")
            for field, kind in others:
                vals = getattr(o, field)
                if vals:
                    index = idx[kind]
                    for v in vals:
                        if index.setdefault(v, k) != k:
                            raise conflict(kind, v, k, field)
        by_path: dict[str, str] = {}
        for p in providers.values():
            for pre in p.paths:
                owner = by_path.setdefault(pre, p.name)
                if owner != p.name:
                    raise self.fail(f"providers.{p.name}.paths", f"prefix {pre!r} is already claimed by provider {owner!r}")
        ro = MappingProxyType
        return Mapping(
            settings=settings, providers=ro(providers), orgs=ro(orgs),
            by_domain=ro(idx["domain"]), by_test_user=ro(idx["test_user"]), by_org_id=ro(idx["org_id"]),
            by_connection=ro(idx["connection"]), by_entity_id=ro(idx["entity_id"]), by_issuer=ro(idx["issuer"]),
            by_client_id=ro(idx["client_id"]), by_path=ro(by_path), version=version,
        )
