"""Fixtures of the store suite: real ``redis-server`` processes on 127.0.0.1.

- ``redis_bin``: the ``redis-server`` path; the redis tests are skipped when it is missing
  (CI installs it).
- ``redis_server`` (session): one server for the contract suite; ``redis_url`` (function) is its
  URL with the data flushed before the test.
- ``start_redis`` (function): a factory for servers that live for one test (the degraded tests
  kill and stop them).
- ``failover_group`` (function): a primary, a replica and three sentinels (``tests/stores/sentinel.py``);
  skipped when ``redis-sentinel`` is missing (CI installs it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field

import pytest

from tests.ports import free_port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.settimeout(0.5)
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    binary: str
    workdir: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    extra_args: tuple[str, ...] = ()  # e.g. ("--replicaof", "127.0.0.1", "6379")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.workdir,
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(5)

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        p, self.proc = self.proc, None
        stop_process(p)


def stop_process(p: subprocess.Popen | None) -> None:
    """SIGTERM by PID (after SIGCONT: a stopped process would not act on it), SIGKILL after 5 s."""
    if p is None or p.poll() is not None:
        return
    os.kill(p.pid, signal.SIGCONT)
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)


@pytest.fixture(scope="session")
def redis_bin() -> str:
    path = shutil.which("redis-server")
    if path is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return path


@pytest.fixture(scope="session")
def redis_server(redis_bin, tmp_path_factory):
    server = RedisServer(redis_bin, str(tmp_path_factory.mktemp("redis"))).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    import redis

    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
def start_redis(redis_bin, tmp_path):
    servers: list[RedisServer] = []

    def start(port: int | None = None, *extra_args: str) -> RedisServer:
        s = RedisServer(redis_bin, str(tmp_path), **({"port": port} if port else {}), extra_args=extra_args)
        servers.append(s)
        return s.start()

    try:
        yield start
    finally:
        for s in servers:
            s.stop()


@pytest.fixture(scope="session")
def sentinel_bin(redis_bin) -> str:
    path = shutil.which("redis-sentinel")
    if path is None:
        pytest.skip("redis-sentinel is not installed (apt-get install redis-sentinel)")
    return path


@pytest.fixture
def failover_group(redis_bin, sentinel_bin, tmp_path):
    from tests.stores.sentinel import FailoverGroup

    group = FailoverGroup(redis_bin, sentinel_bin, tmp_path / "sentinel-group").start()
    try:
        yield group
    finally:
        group.stop()
