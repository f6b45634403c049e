"""Pinned host keys: trust on first use, then any other key — of any type — is refused."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from sclust.ssh import HostKeyMismatch, PinnedHostKeys


def ed25519_key(tmp_path: Path, name: str) -> paramiko.PKey:
    from tests.conftest import write_key

    return paramiko.Ed25519Key.from_private_key_file(str(write_key(tmp_path / name)))


def test_a_key_of_another_type_is_refused_like_a_changed_key(tmp_path: Path) -> None:
    store = PinnedHostKeys(tmp_path / "known_hosts")
    pinned = ed25519_key(tmp_path, "a")
    store.check(None, "10.0.0.5", pinned)  # type: ignore[arg-type]
    store.check(None, "10.0.0.5", pinned)  # type: ignore[arg-type]
    with pytest.raises(HostKeyMismatch, match="offered ssh-rsa, pinned ssh-ed25519"):
        store.check(None, "10.0.0.5", paramiko.RSAKey.generate(1024))  # type: ignore[arg-type]
    with pytest.raises(HostKeyMismatch):
        store.check(None, "10.0.0.5", ed25519_key(tmp_path, "b"))  # type: ignore[arg-type]
    store.check(None, "10.0.0.6", paramiko.RSAKey.generate(1024))  # type: ignore[arg-type]
