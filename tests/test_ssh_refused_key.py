"""A node whose sshd refuses our key is reported at once, not retried until the timeout."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import paramiko
import pytest

from sclust import ssh
from sclust.errors import SclustError
from tests.conftest import write_key


class RefuseEveryKey(paramiko.ServerInterface):
    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_FAILED


@pytest.fixture
def refusing_sshd() -> tuple[str, int]:
    """A real SSH server on loopback that refuses every key, for a bounded number of tries."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(20)
    host_key = paramiko.RSAKey.generate(1024)

    def serve() -> None:
        for _ in range(40):  # bounded: the test needs only a few
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            transport = paramiko.Transport(sock)
            transport.add_server_key(host_key)
            try:
                transport.start_server(server=RefuseEveryKey())
                transport.accept(2)
            except (paramiko.SSHException, EOFError, OSError):
                pass
            finally:
                transport.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()
    listener.close()
    thread.join(5)


def test_a_refused_key_fails_fast_with_advice(refusing_sshd: tuple[str, int], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssh, "AUTH_GRACE", 1.0)
    address, port = refusing_sshd
    connection = ssh.Connection("master", address, "ubuntu", write_key(tmp_path / "k"),
                                ssh.PinnedHostKeys(tmp_path / "known"))
    connection.port = port
    started = time.monotonic()
    with pytest.raises(SclustError, match="was refused for ubuntu.*KEYNAME"):
        connection.open(wait=300)
    assert time.monotonic() - started < 15
