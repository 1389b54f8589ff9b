"""A throwaway PostgreSQL cluster for the tests: Debian's initdb + pg_ctl, a temporary
directory, a free loopback port, trust authentication on 127.0.0.1 only.

PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres``
system user (created by the Debian package; a dedicated user otherwise)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from uplink_helpers import free_port


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
                   if p.split("/")[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _run_as(user):
    if user is None:
        return []
    return ["runuser", "-u", user, "--"]


class PgCluster:
    def __init__(self):
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.user = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
                self.user = "postgres"
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", "airkit-pg"], check=True, timeout=30)
                self.user = "airkit-pg"
        self.dir = Path(tempfile.mkdtemp(prefix="airkit-pg-"))
        if self.user:
            os.chmod(self.dir, 0o755)
            shutil.chown(self.dir, self.user)
        self.data = self.dir / "data"
        self.port = free_port()
        env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        subprocess.run(_run_as(self.user) + [str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust",
                                             "-U", "airkit", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True, timeout=120, env=env, cwd=str(self.dir))
        opts = "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off " \
               "-c full_page_writes=off" % (self.port, self.dir)
        subprocess.run(_run_as(self.user) + [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts,
                                             "-l", str(self.dir / "log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, timeout=90, env=env, cwd=str(self.dir))
        self.url = "postgresql://airkit@127.0.0.1:%d/postgres" % self.port

    def new_database(self) -> str:
        """A fresh empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as c:
            c.execute("CREATE DATABASE %s" % name)
        return "postgresql://airkit@127.0.0.1:%d/%s" % (self.port, name)

    def stop(self):
        subprocess.run(_run_as(self.user) + [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                                             "-w", "-t", "30", "stop"], capture_output=True, timeout=60,
                       cwd=str(self.dir))
        shutil.rmtree(self.dir, ignore_errors=True)
