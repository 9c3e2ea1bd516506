"""A three-node RabbitMQ 3.10 cluster on loopback, for the cluster tests and fault scenarios.

``python -m tests.cluster.cluster start|stop|status`` (or ``Cluster`` from Python). Rules:

- Everything belongs to the cluster: node names (``docbus-c1@localhost`` ...), AMQP ports
  (5681-5683 unless ``DOCBUS_CLUSTER_BASE_PORT`` says otherwise), distribution ports
  (AMQP + 20000), data and log directories, pid files, an empty plugins file, a config file,
  the Erlang cookie (in a ``HOME`` of its own) and ``ERL_FLAGS`` pinning distribution to
  127.0.0.1. The machine's own node (5672, ``/etc/rabbitmq``) is never read nor touched: the
  script points ``RABBITMQ_CONF_ENV_FILE`` at its own file and never runs the Debian
  wrapper (which would switch to the ``rabbitmq`` user and its cookie).
- On 3.10 the node name is not on the command line, so nodes are killed by their pid file,
  never by name.
- Small: one scheduler per node, a small Raft WAL, low memory and disk thresholds.
- ``stop`` kills the nodes and removes the base directory.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SBIN = Path("/usr/lib/rabbitmq/bin")
DEFAULT_BASE = Path(tempfile.gettempdir()) / "docbus-cluster"
BASE_PORT = int(os.environ.get("DOCBUS_CLUSTER_BASE_PORT", "5681"))
DIST_OFFSET = 20000
SIZE = 3
SYSTEM_PORT = 5672

CONFIG = """\
listeners.tcp.1 = 127.0.0.1:{port}
loopback_users = none
vm_memory_high_watermark.absolute = 512MB
disk_free_limit.absolute = 50MB
raft.wal_max_size_bytes = 16000000
raft.segment_max_entries = 4096
log.console = false
log.file.level = warning
cluster_partition_handling = pause_minority
"""
# Two dirty schedulers, one normal: the machine is shared.
ERL_ARGS = "+S 1:1 +SDcpu 1:1 +SDio 2 +A 4 -kernel inet_dist_use_interface {127,0,0,1}"


@dataclass(frozen=True)
class Node:
    index: int
    base: Path

    @property
    def name(self) -> str:
        return f"docbus-c{self.index}@localhost"

    @property
    def port(self) -> int:
        return BASE_PORT + self.index - 1

    @property
    def dist_port(self) -> int:
        return self.port + DIST_OFFSET

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def dir(self) -> Path:
        return self.base / f"c{self.index}"

    @property
    def pid_file(self) -> Path:
        return self.dir / "pid"

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(self.base / "home"),
            RABBITMQ_CONF_ENV_FILE=str(self.base / "rabbitmq-env.conf"),
            RABBITMQ_NODENAME=self.name,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.dir / "log"),
            RABBITMQ_PID_FILE=str(self.pid_file),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(self.dir / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.dir / "advanced.config"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=ERL_ARGS,
            ERL_EPMD_ADDRESS="127.0.0.1",
            ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env


@dataclass
class Cluster:
    base: Path = DEFAULT_BASE
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        if BASE_PORT <= SYSTEM_PORT < BASE_PORT + SIZE:
            raise ValueError("the cluster's ports must not include the machine's 5672")
        self.nodes = [Node(i, self.base) for i in range(1, SIZE + 1)]

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def url_list(self) -> str:
        """``DOCBUS_RABBIT_URL`` for the whole cluster: the nodes' URLs, comma-separated."""
        return ",".join(self.urls)

    # building ----------------------------------------------------------------------------

    def start(self, timeout: float = 150.0) -> None:
        """Lay out the directories, start the three nodes, join 2 and 3 to 1."""
        self.stop()
        self._layout()
        for node in self.nodes:
            self.launch(node)
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            self.wait_node(node, deadline - time.monotonic())
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
        for node in self.nodes:
            self.wait_node(node, deadline - time.monotonic())

    def _layout(self) -> None:
        home = self.base / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq-env.conf").write_text("# the cluster's own: nothing\n")
        for node in self.nodes:
            node.dir.mkdir(parents=True, exist_ok=True)
            (node.dir / "rabbitmq.conf").write_text(CONFIG.format(port=node.port))
            (node.dir / "advanced.config").write_text("[].\n")

    def launch(self, node: Node) -> None:
        """Start one node in the background (its output in its directory)."""
        out = open(node.dir / "stdout.log", "ab")  # noqa: SIM115 - owned by the child
        subprocess.Popen(
            [str(SBIN / "rabbitmq-server")], env=node.env(), stdout=out, stderr=out,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=node.dir,
        )
        out.close()

    def wait_node(self, node: Node, timeout: float) -> None:
        """Until the node's app runs and its AMQP port accepts connections."""
        deadline = time.monotonic() + max(timeout, 1.0)
        while time.monotonic() < deadline:
            left = max(deadline - time.monotonic(), 1)
            started = node.pid() is not None and self.ctl(
                node, "await_startup", check=False, timeout=left
            )
            if started and _port_open(node.port):
                return
            time.sleep(0.5)
        raise TimeoutError(f"{node.name} did not start; see {node.dir}")

    # faults ------------------------------------------------------------------------------

    def kill9(self, node: Node) -> None:
        """kill -9 the node's Erlang VM, found by its pid file."""
        pid = node.pid()
        if pid is not None:
            with _suppress_missing():
                os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)

    def restart(self, node: Node, timeout: float = 90.0) -> None:
        """Start a node killed or stopped before; it rejoins the cluster from its data."""
        self.launch(node)
        self.wait_node(node, timeout)

    def stop_node(self, node: Node) -> None:
        """A clean stop (rabbitmqctl stop), as a rolling restart does."""
        pid = node.pid()
        self.ctl(node, "stop", check=False, timeout=60)
        _wait_gone(pid)

    # inspection --------------------------------------------------------------------------

    def ctl(self, node: Node, *args: str, check: bool = True, timeout: float = 60) -> bool:
        return self.run(node, "rabbitmqctl", *args, check=check, timeout=timeout) is not None

    def run(self, node: Node, tool: str, *args: str, check: bool = True,
            timeout: float = 60) -> str | None:
        """Run ``tool`` (rabbitmqctl, rabbitmq-queues ...) against ``node``; its output, or
        None when it failed and ``check`` is False."""
        done = subprocess.run(
            [str(SBIN / tool), "-q", "-n", node.name, *args], env=node.env(),
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        if done.returncode != 0:
            if check:
                raise RuntimeError(f"{tool} {' '.join(args)}: {done.stderr.strip()[-400:]}")
            return None
        return done.stdout

    def running(self) -> bool:
        """Every node of the cluster runs (started before, e.g. by ``start``)."""
        return all(node.alive() for node in self.nodes)

    def live(self) -> Node:
        """A running node (to run tools against)."""
        for node in self.nodes:
            if node.alive():
                return node
        raise RuntimeError("no node of the cluster runs")

    def leaders(self, vhost: str = "/") -> dict[str, str]:
        """Queue name -> the node name of its leader (``list_queues name leader``)."""
        out = self.run(self.live(), "rabbitmqctl", "list_queues", "-p", vhost, "name",
                       "leader", "--no-table-headers") or ""
        rows = (line.split("\t") for line in out.splitlines() if "\t" in line)
        return dict(rows)

    def stop(self) -> None:
        """Kill every node of the cluster (by pid file) and remove its directories."""
        for node in self.nodes:
            if node.alive():
                self.kill9(node)
        if self.base.exists():
            shutil.rmtree(self.base, ignore_errors=True)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_gone(pid: int | None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while pid is not None and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


class _suppress_missing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, *_: object) -> bool:
        return kind is ProcessLookupError


def available() -> str | None:
    """Why a cluster cannot be built here, or None if it can."""
    if not (SBIN / "rabbitmq-server").exists():
        return f"RabbitMQ is not installed ({SBIN}/rabbitmq-server missing)"
    if any(_port_open(BASE_PORT + i) for i in range(SIZE)):
        return f"ports {BASE_PORT}-{BASE_PORT + SIZE - 1} are taken (another cluster runs?)"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--base", type=Path, default=DEFAULT_BASE)
    args = parser.parse_args(argv)
    cluster = Cluster(args.base)
    if args.action == "start":
        began = time.monotonic()
        cluster.start()
        took = time.monotonic() - began
        print(f"started in {took:.1f} s; DOCBUS_RABBIT_URL={cluster.url_list()}")
    elif args.action == "stop":
        cluster.stop()
    else:
        for node in cluster.nodes:
            print(node.name, node.port, "up" if node.alive() else "down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
