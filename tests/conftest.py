"""Shared fixtures: a private SCLUST_HOME, fake AWS credentials, configs and keys, and moto."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports boto3 or moto: never reach real AWS, keep moto fast.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    # moto invents real internet addresses: sclust may only ever SSH into the local cloud.
    "SCLUST_SSH_ONLY_TO": "127.0.0.0/8,172.31.0.0/16,198.18.0.0/15",
})
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "SCLUST_CONFIG"):
    os.environ.pop(variable, None)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def sclust_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "sclust-home"
    monkeypatch.setenv("SCLUST_HOME", str(home))
    return home


def write_key(path: Path) -> Path:
    """A fresh ed25519 private key file with mode 0600."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    return path


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return write_key(tmp_path / "mykey.pem")


def cluster_config(tmp_path: Path, key_file: Path, extra: str = "", size: int = 3) -> Path:
    path = tmp_path / "config"
    path.write_text(textwrap.dedent(f"""\
        [global]
        DEFAULT_TEMPLATE = small

        [key mykey]
        KEY_LOCATION = {key_file}

        [cluster small]
        KEYNAME = mykey
        CLUSTER_SIZE = {size}
        NODE_IMAGE_ID = ami-12345678
        NODE_INSTANCE_TYPE = t3.medium
        PERMISSIONS = http
        """) + textwrap.dedent(extra) + textwrap.dedent("""
        [permission http]
        IP_PROTOCOL = tcp
        FROM_PORT = 80
        TO_PORT = 80
        """))
    return path


@pytest.fixture
def config_file(tmp_path: Path, key_file: Path) -> Path:
    return cluster_config(tmp_path, key_file)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto EC2 server in its own process (mock_aws may run in this one), on loopback only."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("moto server did not start")
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


def require(condition: bool, reason: str) -> None:
    """Skip without CONDITION, except under SCLUST_REQUIRE_LOCAL_CLOUD=1 (CI), where the
    missing piece is a failure: quickstart.sh installs everything these tests need."""
    if not condition:
        if os.environ.get("SCLUST_REQUIRE_LOCAL_CLOUD") == "1":
            pytest.fail(f"{reason} (SCLUST_REQUIRE_LOCAL_CLOUD=1 forbids skipping)")
        pytest.skip(reason)


def run_sclust(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real `sclust` CLI in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "sclust.cli", *args],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, **(env or {})},
        input=stdin, timeout=timeout,
    )
