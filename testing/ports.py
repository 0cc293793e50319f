"""Loopback ports and sockets for the servers a test or a bench starts."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A loopback port nothing listens on: bound once to get a number from the kernel, then released.

    Another process may take it before it is used; a server that can be handed a socket gets
    ``loopback_socket()`` instead (no race)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def loopback_socket(port: int = 0) -> socket.socket:
    """A TCP socket bound to 127.0.0.1 (on ``port``, or one the kernel picks), for a server to listen on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    return sock
