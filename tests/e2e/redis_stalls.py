"""Ways to make a real ``redis-server`` slow for a test.

``Pauser(port)``: a thread sending ``CLIENT PAUSE 400 ALL`` every 1.5 s (issue 19's reproduction: a
fork for a snapshot, an fsync, a network blip), keeping each pause's window.

A TCP relay between a router and Redis that can make one connection slow:
``RedisRelay(redis_port).start()`` listens on 127.0.0.1:``port`` and pipes every connection to Redis.
``hold_next(b"MGET", seconds)``: the next connection that sends that command (after the call) is
*chosen*; from then on each reply Redis sends on it is held ``seconds`` before it is passed on.
Every other connection — the router's other pooled connections, its probe — goes through at once.
Threads only (no process of its own); ``stop()`` closes every socket it opened.
"""

from __future__ import annotations

import socket
import threading
import time

import redis

PAUSE_MS, PAUSE_EVERY = 400, 1.5  # issue 19's reproduction


class RedisRelay:
    def __init__(self, redis_port: int):
        self.redis_port = redis_port
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._armed: tuple[bytes, float] | None = None
        self.chosen = 0  # connections whose replies were held
        self.held_replies = 0
        self._sockets: list[socket.socket] = []
        self._stopped = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisRelay:
        threading.Thread(target=self._accept, daemon=True, name="relay-accept").start()
        return self

    def hold_next(self, command: bytes, seconds: float) -> None:
        with self._lock:
            self._armed = (b"\r\n" + command.upper() + b"\r\n", seconds)

    def stop(self) -> None:
        self._stopped = True
        with self._lock:
            sockets, self._sockets = [*self._sockets, self._listener], []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    # -- piping --------------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.redis_port), timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            hold = _Hold()
            threading.Thread(target=self._requests, args=(client, server, hold), daemon=True).start()
            threading.Thread(target=self._replies, args=(server, client, hold), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket, hold: _Hold) -> None:
        while chunk := _recv(client):
            with self._lock:
                if self._armed is not None and self._armed[0] in chunk.upper():
                    hold.seconds = self._armed[1]
                    self._armed = None
                    self.chosen += 1
            if not _send(server, chunk):
                break
        _close(server)

    def _replies(self, server: socket.socket, client: socket.socket, hold: _Hold) -> None:
        while chunk := _recv(server):
            if hold.seconds:
                time.sleep(hold.seconds)
                with self._lock:
                    self.held_replies += 1
            if not _send(client, chunk):
                break
        _close(client)


class _Hold:
    seconds: float = 0.0


def _recv(s: socket.socket) -> bytes:
    try:
        return s.recv(65536)
    except OSError:
        return b""


def _send(s: socket.socket, data: bytes) -> bool:
    try:
        s.sendall(data)
        return True
    except OSError:
        return False


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class Pauser(threading.Thread):
    """``CLIENT PAUSE <ms> ALL`` every ``every`` seconds until stopped; keeps each pause's window."""

    def __init__(self, port: int, ms: int = PAUSE_MS, every: float = PAUSE_EVERY):
        super().__init__(daemon=True, name="redis-pauser")
        self.client = redis.Redis("127.0.0.1", port, socket_timeout=5)
        self.ms, self.every = ms, every
        self.windows: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.every if self.windows else 0.2):
            t = time.monotonic()
            try:
                self.client.execute_command("CLIENT", "PAUSE", self.ms, "ALL")
            except (redis.RedisError, OSError):
                continue  # a killed Redis (the soak): no pause this time
            self.windows.append((t, t + self.ms / 1000))

    def stop(self) -> None:
        self._halt.set()
        self.join(10)
        self.client.close()

    def overlaps(self, sent: float, answered: float) -> bool:
        return any(sent < end and answered > start for start, end in self.windows)
