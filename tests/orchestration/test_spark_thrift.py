"""The path a cluster takes: dbt-spark's `thrift` method against a Spark Thrift server
running on a standalone master with two workers.

The test starts them with the pyspark package's own `spark-class`, all on 127.0.0.1 and
on free ports: a master, two workers of one core each, and a Thrift server whose
warehouse and catalogue are its own (under the test's tmp dir, not the data directory),
with the server-side settings the session output uses. The real pipeline
(`run_pipeline`) builds the parity scenario through it with CONVTRACK_SPARK_THRIFT; the
published marts must equal a DuckDB build of the same raw files both ways (EXCEPT ALL),
and the work must have run on the cluster: the master shows the server's application
holding a core on each worker, and each worker's executor ran tasks.

Every process is started in a process group of its own and stopped by it when the
module is done, whether its tests passed or not.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import duckdb
import pyspark
import pytest

from convtrack.core.settings import Settings
from tests.marts import RUN_METADATA, mart_tables
from tests.orchestration.test_spark_parity import (
    AS_OF,
    build,
    leave_what_a_data_directory_holds,
    mart_differences,
    scenario_rows,
    write_raw,
)

# The first test starts the cluster and runs both pipelines: more than pytest's default
# bound on a test (pyproject.toml) on two busy cores.
pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.timeout(1800)]

LOOPBACK = "127.0.0.1"
SPARK_CLASS = Path(pyspark.__file__).parent / "bin" / "spark-class"
APP_NAME = "convtrack-thrift-test"
# How long the cluster may take to come up: a bound on polling, not a wait. Two JVMs
# starting at once on two busy cores take a minute or two.
STARTUP_TIMEOUT_S = 600
STOP_TIMEOUT_S = 60


def free_port() -> int:
    """A port nothing listens on at 127.0.0.1 now (the OS's pick)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((LOOPBACK, port)) == 0


def master_state(webui_port: int) -> dict:
    """The standalone master's own account of its workers and applications."""
    with urllib.request.urlopen(f"http://{LOOPBACK}:{webui_port}/json/", timeout=5) as answer:
        return json.load(answer)


def alive_workers(webui_port: int) -> int:
    try:
        return master_state(webui_port)["aliveworkers"]
    except OSError:  # not answering yet
        return 0
    except json.JSONDecodeError:  # starting: its web UI serves pages before /json/
        return 0


class Daemons:
    """Spark daemons, each in a process group of its own, its output in a log file."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs, self.env = logs, env
        self.started: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:
            self.started[name] = subprocess.Popen(
                [str(SPARK_CLASS), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    def wait_until(self, what: str, ready: Callable[[], bool]) -> None:
        """Poll `ready` until it holds; fail with the logs' ends if a daemon exits or
        the cluster is not up within STARTUP_TIMEOUT_S."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not ready():
            dead = [name for name, p in self.started.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                tails = "\n".join(
                    f"--- {name}.log\n{(self.logs / f'{name}.log').read_text()[-3000:]}"
                    for name in (dead or self.started)
                )
                pytest.fail(f"{what}: not so after {STARTUP_TIMEOUT_S} s; exited: {dead}\n{tails}")
            time.sleep(0.25)  # the polling interval

    def stop(self) -> None:
        """Stop every process group started, the executors the workers started too."""
        for p in self.started.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.started.values():
            try:
                p.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            # A worker's executors are in its group: gone with it, or killed now.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)


def group_pids(groups: set[int]) -> set[int]:
    """Every process now in one of these process groups."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # pid (comm) state ppid pgrp ...: comm may hold spaces, never ") ".
            pgrp = int(stat.read_text().rpartition(") ")[2].split()[2])
            if pgrp in groups:
                pids.add(int(stat.parent.name))
    return pids


def listening_addresses(pids: set[int]) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses these processes' TCP sockets listen on (Linux's /proc)."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            with contextlib.suppress(OSError):
                if (target := os.readlink(fd)).startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    addresses = set()
    for table in ("tcp", "tcp6"):
        for row in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, state, inode = row.split()[1], row.split()[3], row.split()[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                raw = bytes.fromhex(local.partition(":")[0])
                # Each 32-bit word is in the host's (little-endian) order.
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                addresses.add(ipaddress.ip_address(words))
    return addresses


@dataclass
class Cluster:
    master_webui_port: int
    thrift: str  # host:port, as CONVTRACK_SPARK_THRIFT
    worker_dirs: list[Path]
    server_dir: Path  # the Thrift server's warehouse and catalogue
    startup_seconds: float
    daemons: Daemons


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory) -> Iterator[Cluster]:
    """A standalone master, two one-core workers and a Thrift server on it, all on
    127.0.0.1; stopped by their process groups at the end of the session."""
    root = tmp_path_factory.mktemp("spark-cluster")
    logs, conf, server = root / "logs", root / "conf", root / "server"
    worker_dirs = [root / "worker-1", root / "worker-2"]
    for directory in (logs, conf, server, *worker_dirs):
        directory.mkdir()
    env = {
        **os.environ,
        # Every daemon, its web UI and the executors bind to loopback only.
        "SPARK_LOCAL_IP": LOOPBACK,
        # No spark-defaults.conf or log settings of the machine's: an empty directory.
        "SPARK_CONF_DIR": str(conf),
        "SPARK_LOCAL_DIRS": str(root / "local"),
        # The master's REST submission server listens on a fixed port: not wanted.
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        # spark-class finds its Python (find-spark-home) on the path: the venv's.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    master_port, master_webui, thrift_port = free_port(), free_port(), free_port()
    master_url = f"spark://{LOOPBACK}:{master_port}"
    daemons = Daemons(logs, env)
    started = time.monotonic()
    try:
        daemons.start(
            "master", "org.apache.spark.deploy.master.Master",
            "--host", LOOPBACK, "--port", str(master_port), "--webui-port", str(master_webui),
        )  # fmt: skip
        daemons.wait_until("the master listens", lambda: listening(master_webui))
        for n, work_dir in enumerate(worker_dirs, start=1):
            daemons.start(
                f"worker-{n}", "org.apache.spark.deploy.worker.Worker",
                "--host", LOOPBACK, "--port", "0", "--webui-port", str(free_port()),
                "--cores", "1", "--memory", "768m", "--work-dir", str(work_dir), master_url,
            )  # fmt: skip
        # What spark-submit does for sbin/start-thriftserver.sh, on the master above.
        server_settings = {
            "spark.app.name": APP_NAME,
            "spark.executor.memory": "512m",
            "spark.executor.cores": "1",
            "spark.cores.max": "2",
            "spark.driver.host": LOOPBACK,
            "spark.driver.bindAddress": LOOPBACK,
            "spark.ui.enabled": "false",
            # The session output's settings (dbt_project/profiles.yml).
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
            "spark.sql.ansi.enabled": "false",
            "spark.sql.shuffle.partitions": "8",
            "spark.sql.warehouse.dir": str(server / "warehouse"),
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={server / 'metastore_db'};create=true"
            ),
        }
        daemons.start(
            "thrift-server", "org.apache.spark.deploy.SparkSubmit",
            "--master", master_url,
            "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
            "--driver-java-options", f"-Dderby.system.home={server}",
            *[arg for key, value in server_settings.items() for arg in ("--conf", f"{key}={value}")],
            "spark-internal",
            "--hiveconf", f"hive.server2.thrift.bind.host={LOOPBACK}",
            "--hiveconf", f"hive.server2.thrift.port={thrift_port}",
        )  # fmt: skip
        daemons.wait_until("two workers alive", lambda: alive_workers(master_webui) == 2)
        daemons.wait_until("the Thrift server listens", lambda: listening(thrift_port))
        yield Cluster(
            master_webui_port=master_webui,
            thrift=f"{LOOPBACK}:{thrift_port}",
            worker_dirs=worker_dirs,
            server_dir=server,
            startup_seconds=time.monotonic() - started,
            daemons=daemons,
        )
    finally:
        daemons.stop()


@pytest.fixture(scope="module")
def built(spark_cluster, tmp_path_factory) -> dict:
    """The parity scenario (with an interrupted compaction and set-aside directories)
    built by the pipeline on DuckDB, and on Spark through the Thrift server."""
    result = {}
    for engine in ("duckdb", "spark"):
        data_dir = result[f"{engine}_dir"] = tmp_path_factory.mktemp(f"thrift-{engine}")
        write_raw(data_dir / "raw", scenario_rows(later=False), "w")
        leave_what_a_data_directory_holds(data_dir / "raw")
        write_raw(data_dir / "raw", scenario_rows(later=True), "later")
        with pytest.MonkeyPatch.context() as env:
            if engine == "spark":
                env.setenv("CONVTRACK_SPARK_THRIFT", spark_cluster.thrift)
            result[f"{engine}_seconds"] = build(data_dir, engine, AS_OF)
        result[engine] = Settings(data_dir=data_dir).published_path
    result["cluster"] = master_state(spark_cluster.master_webui_port)
    print(
        f"\ncluster up in {spark_cluster.startup_seconds:.0f} s; pipeline runs: duckdb "
        f"{result['duckdb_seconds']:.0f} s, spark through Thrift {result['spark_seconds']:.0f} s"
    )
    return result


def test_the_marts_built_through_thrift_equal_duckdbs(built):
    assert mart_differences(built["duckdb"], built["spark"]) == []
    with duckdb.connect(str(built["spark"]), read_only=True) as con:
        assert sorted(n for (n,) in con.execute("show tables").fetchall()) == mart_tables()
        counts = [con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in mart_tables()]
        meta = con.execute(f"select engine, engine_version from {RUN_METADATA}").fetchall()
    assert all(counts), counts  # every mart holds rows: the comparison compared
    # The version is the server's own answer.
    assert meta == [("spark", version("pyspark"))]


def test_the_work_ran_on_both_workers_of_the_cluster(built, spark_cluster):
    state = built["cluster"]
    (app,) = [a for a in state["activeapps"] if a["name"] == APP_NAME]
    assert app["state"] == "RUNNING" and app["cores"] == 2
    assert [(w["state"], w["coresused"]) for w in state["workers"]] == [("ALIVE", 1)] * 2
    # Each worker started an executor of the server's application, and it ran tasks.
    for work_dir in spark_cluster.worker_dirs:
        (executor_log,) = (work_dir / app["id"]).glob("*/stderr")
        assert "Finished task" in executor_log.read_text(), executor_log


def test_the_marts_live_in_the_servers_warehouse_not_the_data_directory(built, spark_cluster):
    marts = spark_cluster.server_dir / "warehouse" / "marts.db"
    assert sorted(p.name for p in marts.iterdir()) == sorted(mart_tables())
    # Nothing of Spark's in the data directory: at most the empty folder of the pending-build
    # mark, which a successful build deletes (orchestration/assets/ingest.py).
    local = built["spark_dir"] / "spark"
    assert [p for p in local.rglob("*") if p.is_file()] == []  # none when it does not exist


def test_beeline_queries_the_marts_on_the_server(built, spark_cluster):
    # As docs/operations.md#engines shows: the pyspark package's beeline, user convtrack.
    result = subprocess.run(
        [
            str(SPARK_CLASS.with_name("beeline")), "-u", f"jdbc:hive2://{spark_cluster.thrift}/marts",
            "-n", "convtrack", "--outputformat=csv2", "--silent=true",
            "-e", "select count(*) from mart_attribution",
        ],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "SPARK_LOCAL_IP": LOOPBACK,
             "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with duckdb.connect(str(built["spark"]), read_only=True) as con:
        (published,) = con.execute("select count(*) from mart_attribution").fetchone()
    # The result, a header (after beeline's prompt) and a row: last on its output.
    *_, header, row = result.stdout.splitlines()
    assert header.endswith("> count(1)") and row == str(published)
    assert published  # rows, not an empty table


def test_the_cluster_listens_on_loopback_only(built, spark_cluster):
    # The daemons, the Thrift server and the executors the workers started (their groups).
    pids = group_pids({p.pid for p in spark_cluster.daemons.started.values()})
    addresses = listening_addresses(pids)
    assert len(pids) >= 6 and addresses  # 4 daemons and 2 executors, listening
    assert {a.ipv4_mapped or a if a.version == 6 else a for a in addresses} == {
        ipaddress.ip_address(LOOPBACK)
    }
