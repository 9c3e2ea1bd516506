"""The Cerbos policy decision point (the binary of the npm package
``@cerbos/cerbos-linux-x64``, fetched by ``make tools`` into .tools/cerbos), run as a child
process on free ports: for the tests, the benchmark and ``cerbos compile``.

It serves the policies of one directory (deploy/cerbos/policies) from disk, read once at
start; readiness is its HTTP health endpoint. Nothing of ours is imported.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout (docbus/devtools/ is two below it)
POLICIES = ROOT / "deploy" / "cerbos" / "policies"
START_TIMEOUT = 20.0


def cerbos_binary() -> str | None:
    """DOCBUS_CERBOS_BINARY, else .tools/cerbos (make tools), else ``cerbos`` on the PATH."""
    for candidate in (os.environ.get("DOCBUS_CERBOS_BINARY"), str(ROOT / ".tools" / "cerbos")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("cerbos")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def compile_policies(binary: str, policies: Path = POLICIES) -> subprocess.CompletedProcess[str]:
    """``cerbos compile``: checks the policies and runs their test files."""
    return subprocess.run(  # noqa: S603 - our binary, our arguments
        [binary, "compile", "--color=never", str(policies)], capture_output=True, text=True,
        timeout=120, check=False,
    )


class EmbeddedCerbos(subprocess.Popen[bytes]):
    """A running Cerbos server; ``address`` is its gRPC host:port."""

    host: str
    grpc_port: int
    http_port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def healthy(self, timeout: float = 0.5) -> bool:
        url = f"http://{self.host}:{self.http_port}/_cerbos/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def stop(self, timeout: float = 5.0) -> None:
        if self.poll() is None:
            self.send_signal(signal.SIGCONT)
            self.terminate()
            try:
                self.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.wait()


def start_cerbos(
    binary: str, policies: Path = POLICIES, host: str = "127.0.0.1", grpc_port: int = 0,
) -> EmbeddedCerbos:
    """Start ``cerbos server`` serving ``policies`` and wait until it is healthy."""
    grpc_port = grpc_port or free_port(host)
    http_port = free_port(host)
    args = [
        binary, "server", "--config=/dev/null", "--log-level=error",
        f"--set=server.httpListenAddr={host}:{http_port}",
        f"--set=server.grpcListenAddr={host}:{grpc_port}",
        "--set=storage.driver=disk", f"--set=storage.disk.directory={policies}",
        "--set=storage.disk.watchForChanges=false",
        "--set=telemetry.disabled=true", "--set=audit.enabled=false",
    ]
    env = {**os.environ, "CERBOS_NO_TELEMETRY": "1", "OTEL_SDK_DISABLED": "true"}
    with tempfile.TemporaryFile() as log:  # the child keeps its own descriptor
        server = EmbeddedCerbos(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        server.host, server.grpc_port, server.http_port = host, grpc_port, http_port
        deadline = time.monotonic() + START_TIMEOUT
        while not server.healthy(0.2):
            if server.poll() is not None or time.monotonic() > deadline:
                server.stop()
                log.seek(0)
                tail = log.read()[-2000:].decode(errors="replace")
                raise RuntimeError(f"cerbos server did not start: {tail}")
            time.sleep(0.05)
    return server
