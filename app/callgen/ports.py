"""Free local UDP ports for SIPp: its SIP port, and the four media ports it binds from -mp
on (audio RTP and RTCP, video RTP and RTCP), so calls placed side by side never collide."""

from __future__ import annotations

import contextlib
import socket

MEDIA_PORTS = 4  # -mp N binds N .. N+3


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_media_port() -> int:
    """A base port, a multiple of four, whose next three ports are free too."""
    for _ in range(100):
        base = free_udp_port() & ~(MEDIA_PORTS - 1)
        with contextlib.ExitStack() as held:
            try:
                for port in range(base, base + MEDIA_PORTS):
                    sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise OSError("no four free UDP ports in a row for SIPp's media")
