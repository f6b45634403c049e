"""SSH key files: does KEY_LOCATION hold the private key of the EC2 key pair?"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from sclust.errors import CloudError, SclustError

if TYPE_CHECKING:
    from sclust.cloud import Cloud


def load_private_key(path: Path):  # -> cryptography private key
    from cryptography.hazmat.primitives import serialization

    data = path.read_bytes()
    loaders = (serialization.load_pem_private_key, serialization.load_ssh_private_key)
    for loader in loaders:
        try:
            return loader(data, password=None)
        except (ValueError, TypeError):
            continue
        except Exception:  # unsupported key types raise their own errors
            continue
    raise SclustError(f"{path}: not an unencrypted RSA or ed25519 private key")


def public_key_openssh(path: Path) -> bytes:
    """The OpenSSH one-line public key of the private key at PATH."""
    from cryptography.hazmat.primitives import serialization

    key = load_private_key(path)
    return key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )


def colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def fingerprints(path: Path) -> set[str]:
    """Every fingerprint EC2 may show for this key.

    AWS: MD5 of the public key (imported RSA), SHA-1 of the PKCS#8 private key (RSA made by
    EC2), base64 SHA-256 of the OpenSSH key (ed25519). EC2-compatible endpoints vary, so the
    SHA-1/SHA-256 hex forms of the DER public key are accepted too.
    """
    from cryptography.hazmat.primitives import serialization

    key = load_private_key(path)
    public = key.public_key()
    der_public = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    openssh = public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    blob = base64.b64decode(openssh.split()[1])
    found = {
        colon_hex(hashlib.md5(der_public).digest()),
        colon_hex(hashlib.sha1(der_public).digest()),
        colon_hex(hashlib.sha256(der_public).digest()),
        base64.b64encode(hashlib.sha256(blob).digest()).decode(),
        base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("="),
    }
    try:
        der_private = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        found.add(colon_hex(hashlib.sha1(der_private).digest()))
    except ValueError:
        pass
    return found


def create_key_file(path: Path, private_key_pem: str) -> None:
    """Write a private key readable by its owner only (ssh refuses others)."""
    from sclust.errors import SclustError
    from sclust.files import write_private

    if path.exists() or path.is_symlink():
        raise SclustError(f"{path} exists: choose another file")
    write_private(path, private_key_pem if private_key_pem.endswith("\n")
                  else private_key_pem + "\n")


def check_key_pair(cloud: Cloud, name: str, path: Path) -> None:
    """Key pair NAME exists in the cloud's region and PATH holds its private key; checked
    before anything is launched (clusters and desktops alike: a missing key pair would only
    show as SSH failing on every instance)."""
    found = cloud.key_fingerprint(name)
    if found is None:
        raise CloudError(
            f"key pair {name!r} does not exist in EC2 region {cloud.region}: import "
            f"KEY_LOCATION's key with `sclust createkey {name} -i {path}`, or create a new "
            f"one with `sclust createkey {name} -o FILE`"
        )
    if found and found not in fingerprints(path):
        raise CloudError(
            f"KEY_LOCATION {path} is not the private key of EC2 key pair {name!r} "
            f"(EC2 fingerprint {found}): fix KEY_LOCATION in [key {name}] or KEYNAME"
        )
