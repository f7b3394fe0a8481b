"""A bare AMI client for tests: raw TCP, one reader thread, messages as dicts."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable

from app.config import Settings
from app.pbx.secrets import load_credentials

Message = dict[str, str]


class AmiClient:
    def __init__(self, settings: Settings, events: str = "off") -> None:
        self.sock = socket.create_connection((settings.ami_host, settings.ami_port), timeout=10)
        self.messages: list[Message] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.sock.settimeout(None)
        self._buffer = b""
        self.banner = self._read_line()
        self._reader = threading.Thread(target=self._read_all, daemon=True)
        self._reader.start()
        secret = load_credentials(settings).ami_secret
        login = self.action("Login", Username=settings.ami_user, Secret=secret, Events=events)
        if login.get("Response") != "Success":
            raise AssertionError(f"AMI login refused: {login}")

    def _read_line(self) -> str:
        while b"\r\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("AMI closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def _read_all(self) -> None:
        message: Message = {}
        try:
            while True:
                line = self._read_line()
                if not line:
                    if message:
                        with self._lock:
                            self.messages.append(message)
                    message = {}
                elif ": " in line:
                    key, value = line.split(": ", 1)
                    message.setdefault(key, value)
        except (ConnectionError, OSError):
            return

    def wait_for(self, match: Callable[[Message], bool], timeout: float = 10) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = next((m for m in self.messages if match(m)), None)
            if found is not None:
                return found
            time.sleep(0.02)
        raise AssertionError(f"no such AMI message within {timeout} s")

    def action(self, name: str, **fields: str) -> Message:
        """Send an action and return its response."""
        action_id = f"t{next(self._ids)}"
        text = f"Action: {name}\r\nActionID: {action_id}\r\n"
        text += "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        self.sock.sendall((text + "\r\n").encode())
        return self.wait_for(lambda m: m.get("ActionID") == action_id and "Response" in m)

    def events(self, name: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.get("Event") == name]

    def close(self) -> None:
        try:
            self.sock.sendall(b"Action: Logoff\r\n\r\n")
        except OSError:
            pass
        self.sock.close()
