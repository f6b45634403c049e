"""VNC Authentication (RFB security type 2) and the VNC password file, in DES as VNC uses it.

VNC's DES (d3des) reads each key byte with its bits reversed; with standard DES the key is
the password's bytes, NUL-padded to 8, each bit-reversed. Only the first 8 characters of a
VNC password count, so sclust's passwords are exactly 8 characters.
"""

from __future__ import annotations

import secrets

MAX_LENGTH = 8
# The fixed key TigerVNC/RealVNC use to store a password in a file (obfuscation, not secrecy).
_FILE_KEY = bytes([23, 82, 107, 6, 35, 78, 88, 7])
# Unambiguous characters (no 0/O, 1/l/I): students type what they read from a sheet.
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def generate_password() -> str:
    """A random 8-character VNC password (about 46 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(MAX_LENGTH))


def _reversed_bits(byte: int) -> int:
    return int(f"{byte:08b}"[::-1], 2)


def _des_encrypt(vnc_key: bytes, data: bytes) -> bytes:
    """DES-ECB with VNC's key convention (single DES = TripleDES with the key three times)."""
    try:  # cryptography >= 43 keeps DES among the "decrepit" algorithms
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:  # pragma: no cover - older cryptography
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    key = bytes(_reversed_bits(b) for b in vnc_key.ljust(8, b"\0")[:8])
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def auth_response(password: str, challenge: bytes) -> bytes:
    """The client's answer to the server's 16-byte VNC Authentication challenge."""
    if len(challenge) != 16:
        raise ValueError(f"a VNC challenge is 16 bytes, not {len(challenge)}")
    return _des_encrypt(password.encode("latin-1")[:MAX_LENGTH], challenge)


def password_file(password: str, view_only: str | None = None) -> bytes:
    """A VNC password file (what `vncpasswd` writes; `Xvnc -PasswordFile`): 8 bytes, then 8
    more for a VIEW_ONLY password (TigerVNC gives whoever types it a view-only session)."""
    data = _des_encrypt(_FILE_KEY, password.encode("latin-1")[:MAX_LENGTH].ljust(8, b"\0"))
    if view_only is not None:
        data += _des_encrypt(_FILE_KEY,
                             view_only.encode("latin-1")[:MAX_LENGTH].ljust(8, b"\0"))
    return data


def view_password(password: str) -> str:
    """The view-only password of the desktop whose password is PASSWORD (the instructor's wall
    uses it): derived, so it needs no storage, and useless to reach the desktop's keyboard."""
    import hashlib
    import hmac

    digest = hmac.new(password.encode(), b"sclust view-only", hashlib.sha256).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:MAX_LENGTH])
