"""Figures in the ``sso_store`` Redis, summed over every instance that shares it.

Keys (prefix ``ssor:fig:``), per org a handful per window: ``oc:<width>:<bucket>:<org>`` (outcomes)
and ``fate:<width>:<bucket>:<org>`` (logins that left / never came back) hashes that expire with their
bucket, ``since:<org>``; shared hashes
``flip``, ``last``/``lastat``, ``rb``; departures in the sorted set ``dep`` (by deadline, capped) with
``depinfo``; return markers ``ret:<key>`` with a TTL; ``routed`` (provider → last time, ``ZADD GT``);
``lock:<name>`` (``SET NX PX``). An expired departure is claimed and counted in one Lua script, so
two instances never count it twice. The scripts name keys they build (standalone Redis or Sentinel,
not Cluster — as the correlation store). Bounded socket timeouts, no retries; every client error
leaves this module as ``StoreUnavailable``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..correlation.redis import failure_kind
from ..correlation.sentinel import SCHEME as SENTINEL_SCHEME
from ..correlation.sentinel import parse_sentinel_url, primary_client
from ..errors import StoreUnavailable
from ..logsafe import safe_url
from . import (
    RETURN_GRACE,
    Batch,
    Fate,
    FlipState,
    LastFailure,
    Lost,
    OrgFigures,
    Rollback,
    Routed,
    counts_by_provider,
    fates_by_provider,
    total_fate,
)
from . import redis_lua as lua
from .buckets import LONGEST, TIERS, window_buckets
from .tally import tally

PREFIX = "ssor:fig:"
CHUNK = 200  # orgs per pipeline / script call


class RedisFigures:
    shared = True

    def __init__(self, url: str, *, timeout: float = 0.25, prefix: str = PREFIX, max_departures: int = 200_000) -> None:
        self.url = safe_url(url)
        self.p = prefix
        self._max_dep = max_departures
        self._sentinel: Any = None
        try:
            if url.lower().startswith(SENTINEL_SCHEME + "://"):  # the primary Sentinel names, as the correlations
                self._sentinel, self._client = primary_client(parse_sentinel_url(url), timeout, decode_responses=True)
            else:
                self._client = redis.Redis.from_url(
                    url,
                    socket_timeout=timeout,
                    socket_connect_timeout=timeout,
                    retry=Retry(NoBackoff(), 0),
                    health_check_interval=0,
                    decode_responses=True,
                )
        except ValueError as e:
            raise ValueError(f"bad redis URL {self.url!r}: {e}") from None
        c = self._client
        self._last, self._expire, self._flips, self._trim, self._acquire, self._release = (
            c.register_script(s) for s in (lua.LAST, lua.EXPIRE, lua.FLIPS, lua.TRIM, lua.ACQUIRE, lua.RELEASE)
        )

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (redis.RedisError, OSError) as e:
            raise StoreUnavailable(f"{self.url}: {type(e).__name__}: {e}", failure_kind(e)) from e

    # -- writes --------------------------------------------------------------------------------
    def record(self, batch: Batch) -> None:
        if not batch:
            return
        p = self.p
        t = tally(batch)
        keep = {tier.width: tier.keep for tier in TIERS}
        with self._translated():
            pipe = self._client.pipeline(transaction=False)
            if (first := batch.first_at()) is not None:
                pipe.set(f"{p}started", repr(first), nx=True)
            ttl: dict[str, int] = {}
            for (org, width, bucket, name), n in t.outcomes.items():
                pipe.hincrby(key := f"{p}oc:{width}:{bucket}:{org}", name, n)
                ttl[key] = keep[width]
            for (org, name), n in t.since.items():
                pipe.hincrby(f"{p}since:{org}", name, n)
            if t.last:
                rec = {
                    org: json.dumps({"at": f.at, "provider": f.provider, "stage": f.stage, "kind": f.kind})
                    for org, f in t.last.items()
                }
                self._last(
                    keys=[f"{p}lastat", f"{p}last"],
                    args=[x for org, f in t.last.items() for x in (org, repr(f.at), rec[org])],
                    client=pipe,
                )
            for (org, width, bucket, name), n in t.left.items():
                pipe.hincrby(key := f"{p}fate:{width}:{bucket}:{org}", name, n)
                ttl[key] = keep[width]
            for key, seconds in ttl.items():
                pipe.expire(key, seconds)
            for d in batch.departures:
                if d.keys:
                    pipe.zadd(f"{p}dep", {d.keys[0]: d.at + d.ttl})
                    pipe.hset(
                        f"{p}depinfo",
                        d.keys[0],
                        json.dumps({"o": d.org, "p": d.provider, "k": list(d.keys), "a": d.at}),
                    )
            for r in batch.returns:
                for k in r.keys:
                    pipe.set(f"{p}ret:{k}", "1", ex=max(1, int(r.ttl + RETURN_GRACE)))
            if batch.routed:
                pipe.zadd(f"{p}routed", batch.routed, gt=True)
            if batch.departures:
                self._trim(keys=[f"{p}dep", f"{p}depinfo"], args=[self._max_dep], client=pipe)
            pipe.execute()

    def expire(self, now: float, limit: int = 1000) -> list[Lost]:
        p = self.p
        args: list[str | int] = [p, repr(now), limit]
        for tier in TIERS:
            args += [tier.width, tier.keep]
        with self._translated():
            raws = self._expire(keys=[f"{p}dep", f"{p}depinfo", f"{p}lostorgs"], args=args)
            self._client.zremrangebyscore(f"{p}lostorgs", "-inf", now - LONGEST.keep)
        out: list[Lost] = []
        for raw in raws:
            d = json.loads(raw)
            out.append(Lost(d["o"], d["p"], float(d["a"])))
        return out

    def observe_flips(self, states: Sequence[tuple[str, bool]], at: float) -> dict[str, FlipState]:
        out: dict[str, FlipState] = {}
        with self._translated():
            for i in range(0, len(states), CHUNK):
                chunk = states[i : i + CHUNK]
                args: list[str | int] = [self.p, repr(at)]
                for org, migrated in chunk:
                    args += [org, "1" if migrated else "0"]
                for (org, _), cur in zip(chunk, self._flips(keys=[f"{self.p}flip"], args=args), strict=True):
                    if state := _flip(cur):
                        out[org] = state
        return out

    def save_rollback(self, org: str, rollback: Rollback) -> None:
        with self._translated():
            self._client.hset(f"{self.p}rb", org, json.dumps(rollback.as_dict()))

    # -- reads ---------------------------------------------------------------------------------
    def figures(self, orgs: Sequence[str], now: float, *, windows: bool) -> dict[str, OrgFigures]:
        out: dict[str, OrgFigures] = {}
        for i in range(0, len(orgs), CHUNK):
            out.update(self._chunk(list(orgs[i : i + CHUNK]), now, windows))
        return out

    def _chunk(self, orgs: list[str], now: float, windows: bool) -> dict[str, OrgFigures]:
        p = self.p
        spans = [(tier, window_buckets(tier, now)) for tier in TIERS] if windows else []
        with self._translated():
            pipe = self._client.pipeline(transaction=False)
            pipe.hmget(f"{p}flip", orgs)
            pipe.hmget(f"{p}last", orgs)
            pipe.hmget(f"{p}rb", orgs)
            for org in orgs:
                pipe.hgetall(f"{p}since:{org}")
                for tier, span in spans:
                    for b in span:
                        pipe.hgetall(f"{p}oc:{tier.width}:{b}:{org}")
                        pipe.hgetall(f"{p}fate:{tier.width}:{b}:{org}")
            res = iter(pipe.execute())
        flips, lasts, rbs = next(res), next(res), next(res)
        out: dict[str, OrgFigures] = {}
        for org, flip, last, rb in zip(orgs, flips, lasts, rbs, strict=True):
            since = next(res)
            wins, lost = {}, {}
            for tier, span in spans:
                acc: Counter[str] = Counter()
                lacc: Counter[str] = Counter()
                for _ in span:
                    acc.update({k: int(v) for k, v in next(res).items()})
                    lacc.update({k: int(v) for k, v in next(res).items()})
                wins[tier.window] = counts_by_provider(acc)
                lost[tier.window] = fates_by_provider(lacc)
            out[org] = OrgFigures(
                org,
                _flip(flip),
                counts_by_provider({k: int(v) for k, v in since.items()}),
                _last(last),
                Rollback.from_dict(json.loads(rb)) if rb else None,
                wins,
                lost,
            )
        return out

    def unreturned_orgs(self, now: float) -> dict[str, Fate]:
        p = self.p
        span = window_buckets(LONGEST, now)
        with self._translated():
            orgs = self._client.zrangebyscore(f"{p}lostorgs", now - LONGEST.seconds - LONGEST.width, "+inf")
            pipe = self._client.pipeline(transaction=False)
            for org in orgs:
                for b in span:
                    pipe.hgetall(f"{p}fate:{LONGEST.width}:{b}:{org}")
            res = iter(pipe.execute())
        out: dict[str, Fate] = {}
        for org in orgs:
            acc: Counter[str] = Counter()
            for _ in span:
                acc.update({k: int(v) for k, v in next(res).items()})
            total = total_fate(fates_by_provider(acc))
            if total.lost:
                out[org] = total
        return out

    def rollbacks(self) -> dict[str, Rollback]:
        with self._translated():
            raw = self._client.hgetall(f"{self.p}rb")
        out = {org: Rollback.from_dict(json.loads(v)) for org, v in raw.items()}
        return {org: rb for org, rb in out.items() if rb is not None}

    def routed(self) -> Routed:
        with self._translated():
            started = self._client.get(f"{self.p}started")
            last = self._client.zrange(f"{self.p}routed", 0, -1, withscores=True)
        return Routed(float(started) if started else None, {k: float(v) for k, v in last})

    # -- the one-instance lock: SET PX if free or ours ---------------------------------------------------
    def acquire(self, name: str, owner: str, ttl: float) -> bool:
        with self._translated():
            got: int = self._acquire(keys=[f"{self.p}lock:{name}"], args=[owner, max(1, int(ttl * 1000))])
            return got == 1

    def release(self, name: str, owner: str) -> None:
        with self._translated():
            self._release(keys=[f"{self.p}lock:{name}"], args=[owner])

    def ping(self) -> bool:
        try:
            with self._translated():
                return bool(self._client.ping())
        except StoreUnavailable:
            return False

    def close(self) -> None:
        for client in (self._client, self._sentinel):
            close = getattr(client, "close", None)  # redis-py < 6's Sentinel has none
            try:
                if close is not None:
                    close()
            except (redis.RedisError, OSError):
                pass


def _flip(raw: str | None) -> FlipState | None:
    if not raw:
        return None
    m, _, since = raw.partition(" ")
    try:
        return FlipState(m == "1", float(since))
    except ValueError:
        return None


def _last(raw: str | None) -> LastFailure | None:
    if not raw:
        return None
    try:
        d = json.loads(raw)
        return LastFailure(float(d["at"]), str(d["provider"]), str(d["stage"]), str(d["kind"]))
    except (ValueError, KeyError, TypeError):
        return None
