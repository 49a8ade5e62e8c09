"""The network guard itself must work, or every 'offline' claim in the suite is unproven."""

import socket

import pytest


def test_connection_off_the_machine_is_refused() -> None:
    with pytest.raises(RuntimeError, match="tried to"):
        socket.create_connection(("93.184.216.34", 80), timeout=1)


def test_name_resolution_off_the_machine_is_refused() -> None:
    with pytest.raises(RuntimeError, match="tried to resolve"):
        socket.getaddrinfo("example.com", 443)


def test_loopback_is_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()
