"""SIPp's media ports: all four it binds from -mp on are free."""

from __future__ import annotations

import socket

from app.callgen.ports import MEDIA_PORTS, free_media_port, free_udp_port


def test_the_four_media_ports_are_free_and_aligned() -> None:
    for _ in range(20):
        base = free_media_port()
        assert base % MEDIA_PORTS == 0
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(MEDIA_PORTS)]
        try:
            for offset, sock in enumerate(socks):
                sock.bind(("127.0.0.1", base + offset))  # SIPp's audio and video RTP/RTCP
        finally:
            for sock in socks:
                sock.close()


def test_a_taken_port_is_never_part_of_the_media_ports() -> None:
    taken = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(200)]
    try:
        ports = set()
        for sock in taken:
            sock.bind(("127.0.0.1", 0))
            ports.add(sock.getsockname()[1])
        for _ in range(50):
            base = free_media_port()
            assert not ports & set(range(base, base + MEDIA_PORTS))
            assert free_udp_port() not in ports
    finally:
        for sock in taken:
            sock.close()
