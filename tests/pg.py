"""Find or start a real PostgreSQL for the suite (see shared design: "Tests and the real database").

Order: BIMTEK_TEST_POSTGRES_URL; a server on 127.0.0.1:5432; a throwaway cluster
started from the server binaries (as an unprivileged user: PostgreSQL refuses root).
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import closing

import psycopg
from psycopg import sql


def _port_open(host: str, port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _can_connect(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayCluster:
    def __init__(self):
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not binaries:
            raise FileNotFoundError("no PostgreSQL server binaries")
        self.bindir = os.path.dirname(binaries[-1])
        self.dir = tempfile.mkdtemp(prefix="bimtek-pg-")
        self.port = _free_port()
        self.user = "nobody" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, user=self.user)
        data = os.path.join(self.dir, "data")
        self._run(["initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        self._run(
            [
                "pg_ctl", "-D", data, "-l", os.path.join(self.dir, "log"), "-w", "start",
                "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            ]
        )  # fmt: skip
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, command: list[str]) -> None:
        command[0] = os.path.join(self.bindir, command[0])
        subprocess.run(command, check=True, capture_output=True, user=self.user, cwd=self.dir)

    def stop(self) -> None:
        try:
            self._run(["pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "fast", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class PostgresProvider:
    """Hands out throwaway databases on whichever server it found."""

    def __init__(self):
        self.cluster = None
        self.admin_url = None
        self.reason = ""
        self.created: list[str] = []
        explicit = os.environ.get("BIMTEK_TEST_POSTGRES_URL")
        if explicit:
            self.admin_url = explicit
            return
        if _port_open("127.0.0.1", 5432):
            for user in ("postgres", os.environ.get("USER") or "root"):
                url = f"postgresql://{user}@127.0.0.1:5432/postgres"
                if _can_connect(url):
                    self.admin_url = url
                    return
        try:
            self.cluster = ThrowawayCluster()
            self.admin_url = self.cluster.url
        except (FileNotFoundError, subprocess.CalledProcessError, OSError) as exc:
            self.reason = (
                f"no PostgreSQL server on 127.0.0.1:5432 and no cluster could start ({exc})"
            )

    @property
    def available(self) -> bool:
        return self.admin_url is not None

    def create_database(self) -> str:
        name = f"bimtek_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)

    def close(self) -> None:
        if self.admin_url:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                for name in self.created:
                    for _ in range(3):
                        try:
                            conn.execute(
                                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                                    sql.Identifier(name)
                                )
                            )
                            break
                        except psycopg.Error:
                            time.sleep(0.5)
        if self.cluster:
            self.cluster.stop()
