"""`hotline api` in processes of its own, as an API-only node runs: started, waited for
(/healthz), stopped."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


@contextmanager
def api_node(env: dict[str, str], log_path: Path, *args: str,
             timeout: float = 120) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """(base URL, process) of `hotline api ARGS` on env's HOTLINE_API_HOST/PORT."""
    log = log_path.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "api", *args], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://{env.get('HOTLINE_API_HOST', '127.0.0.1')}:{env['HOTLINE_API_PORT']}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the API did not start: {log_path.read_text()}")
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
