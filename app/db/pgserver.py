"""A PostgreSQL server of Debian's packages run for the platform's own use: the tests' and the
benchmarks' throwaway servers, and the local cluster's shared database (`hotline cluster`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PostgresError(RuntimeError):
    pass


def _as_postgres(*cmd: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    done = subprocess.run([*prefix, *cmd], capture_output=True, text=True)
    if done.returncode:
        raise PostgresError(f"{Path(cmd[0]).name} failed: {(done.stderr or done.stdout).strip()}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bindir() -> Path:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        raise PostgresError("PostgreSQL server is not installed: apt-get install postgresql "
                            "(make test and make cluster do this)")
    return bins[-1].parent


@contextmanager
def postgres_server(folder: Path | None = None, port: int | None = None) -> Iterator[str]:
    """Yields the URL of a server on loopback (user postgres, trust). `folder`: its data is
    kept there and reused next time; otherwise it lives in a temporary folder, removed after."""
    bindir = _bindir()
    keep = folder is not None
    base = folder if folder is not None else Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o777)  # the postgres user writes its socket and log here
    data = base / "data"
    port = port or _free_port()
    if not (data / "PG_VERSION").exists():
        _as_postgres(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                     "-E", "UTF8", "--locale=C.UTF-8")
    opts = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200")
    _as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"),
                 "-w", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        _as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast" if keep else "immediate",
                     "stop")
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
