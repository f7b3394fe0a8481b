"""Making sure of the database file's privacy never touches the locks of the process's open
SQLite connections (closing any descriptor of a file drops every POSIX lock on it)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from app.db.session import keep_private

TRY_WRITE = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    db.execute("begin immediate")
except sqlite3.OperationalError as exc:
    print(exc)
else:
    print("got the write lock")
"""


def test_keep_private_leaves_an_open_connections_lock_in_place(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    folder.mkdir(mode=0o700)
    path = folder / "hotline.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("create table t (x)")
    writer.execute("begin immediate")  # this process holds the write lock on the file
    writer.execute("insert into t values (1)")
    keep_private(path)  # as a second engine on the same file in this process does
    other = subprocess.run([sys.executable, "-c", TRY_WRITE, str(path)], capture_output=True,
                           text=True, timeout=30)
    assert other.stdout.strip() == "database is locked", other.stdout + other.stderr
    writer.execute("commit")
    writer.close()


def test_keep_private_makes_a_new_database_file_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "hotline.db"
    keep_private(path)
    assert path.exists() and path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
