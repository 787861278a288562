"""Redis Sentinel for tests: a primary, a replica and three sentinels (Debian's ``redis-server`` and
``redis-sentinel``) on 127.0.0.1, each stopped by PID.

``FailoverGroup(redis_bin, sentinel_bin, workdir).start()`` returns once the replica's link is up
and every sentinel knows the replica and the other sentinels, so a failover can happen. Sentinels
notice a dead primary after ``DOWN_AFTER_MS`` and promote the replica within a few seconds.
``wait_promoted()`` waits for that; every wait is bounded.
"""

from __future__ import annotations

import pathlib
import subprocess
import time
from dataclasses import dataclass, field

import redis

from tests.stores.conftest import RedisServer, free_port, stop_process

SERVICE = "mymaster"
DOWN_AFTER_MS = 1000  # low, so a test's failover is quick; high enough not to fire on a loaded 2-core box
FAILOVER_TIMEOUT_MS = 3000


def _client(port: int) -> redis.Redis:
    return redis.Redis("127.0.0.1", port, socket_timeout=1, socket_connect_timeout=1)


def wait_until(what: str, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, OSError) as e:
            last = e
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout}s (last error: {last!r})")


@dataclass
class SentinelServer:
    binary: str
    workdir: pathlib.Path
    primary_port: int
    quorum: int = 2
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def start(self) -> SentinelServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "sentinel.conf"  # the sentinel rewrites it (what it learns, failovers)
        conf.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    "bind 127.0.0.1",
                    "daemonize no",
                    f'dir "{self.workdir}"',
                    "loglevel warning",
                    f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} {self.quorum}",
                    f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
                    f"sentinel parallel-syncs {SERVICE} 1",
                    "",
                ]
            )
        )
        self.proc = subprocess.Popen(
            [self.binary, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        try:
            wait_until(
                f"redis-sentinel on {self.port}", lambda: self.proc.poll() is None and _client(self.port).ping(), 10
            )
        except AssertionError:
            self.stop()
            raise
        return self

    def primary(self) -> int | None:
        addr = _client(self.port).sentinel_get_master_addr_by_name(SERVICE)
        return int(addr[1]) if addr else None

    def stop(self) -> None:
        p, self.proc = self.proc, None
        stop_process(p)


class FailoverGroup:
    def __init__(self, redis_bin: str, sentinel_bin: str, workdir: pathlib.Path, sentinels: int = 3):
        self.primary = RedisServer(redis_bin, str(_mkdir(workdir / "primary")), extra_args=_REPL)
        self.replica = RedisServer(
            redis_bin,
            str(_mkdir(workdir / "replica")),
            extra_args=(*_REPL, "--replicaof", "127.0.0.1", str(self.primary.port)),
        )
        self.sentinels = [
            SentinelServer(sentinel_bin, workdir / f"sentinel-{i}", self.primary.port) for i in range(sentinels)
        ]

    def url(self, db: int = 0, auth: str = "") -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{auth}{hosts}/{SERVICE}/{db}"

    def start(self) -> FailoverGroup:
        try:
            self.primary.start()
            self.replica.start()
            wait_until(
                "replica link up",
                lambda: _client(self.replica.port).info("replication").get("master_link_status") == "up",
                15,
            )
            for s in self.sentinels:
                s.start()
            wait_until("sentinels know the replica and each other", self._sentinels_ready, 20)
        except BaseException:
            self.stop()
            raise
        return self

    def _sentinels_ready(self) -> bool:
        for s in self.sentinels:
            c = _client(s.port)
            replicas = c.sentinel_slaves(SERVICE)
            if not any(
                r["port"] == self.replica.port and not r["is_sdown"] and r.get("master-link-status") == "ok"
                for r in replicas
            ):
                return False
            if len(c.sentinel_sentinels(SERVICE)) != len(self.sentinels) - 1:
                return False
        return True

    def kill_primary(self) -> int:
        """SIGKILL the primary (no shutdown, no last sync); its port."""
        self.primary.kill()
        return self.primary.port

    def wait_promoted(self, old_port: int, timeout: float = 30.0) -> int:
        """Until every sentinel names another primary and that server says it is one; its port."""

        def promoted() -> bool:
            ports = {s.primary() for s in self.sentinels}
            return (
                len(ports) == 1
                and old_port not in ports
                and _client(ports.pop()).info("replication").get("role") == "master"
            )

        wait_until("a replica promoted by the sentinels", promoted, timeout)
        return self.sentinels[0].primary()

    def stop(self) -> None:
        for s in self.sentinels:
            s.stop()
        self.replica.stop()
        self.primary.stop()


_REPL = ("--repl-diskless-sync-delay", "0")


def _mkdir(p: pathlib.Path) -> pathlib.Path:
    p.mkdir(parents=True, exist_ok=True)
    return p
