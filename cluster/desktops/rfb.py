"""A small VNC (RFB 3.8) client that speaks through noVNC's websocket over HTTPS, as a browser
does: to check that a desktop answers and takes its own password (and no other).

    with open_session("198.18.0.5", 443, "s3cretpw", cert_sha256=report.cert_sha256) as s:
        print(s.desktop_name, s.width, s.height)

Only what that needs: TLS (a self-signed certificate, pinned by its SHA-256 fingerprint when
given), the websocket handshake and frames (RFC 6455), the RFB handshake, VNC Authentication,
ServerInit, and raw framebuffer updates of a region.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import struct
from dataclasses import dataclass, field

from sclust.desktops.vncauth import auth_response
from sclust.errors import SclustError

VNC_AUTH = 2


class RfbError(SclustError):
    """The desktop did not speak VNC through noVNC as expected."""


class VncAuthFailed(RfbError):
    """The desktop refused the password."""


def _tls(address: str, port: int, cert_sha256: str | None, timeout: float) -> ssl.SSLSocket:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Self-signed per desktop: trust is the pinned fingerprint, not a CA.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((address, port), timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock = context.wrap_socket(raw)
    if cert_sha256 is not None:
        der = sock.getpeercert(binary_form=True) or b""
        seen = hashlib.sha256(der).hexdigest()
        if seen != cert_sha256.replace(":", "").lower():
            sock.close()
            raise RfbError(f"{address}:{port}: certificate {seen} is not the desktop's "
                           f"({cert_sha256})")
    return sock


def https_get(address: str, port: int, path: str, cert_sha256: str | None = None,
              timeout: float = 10) -> tuple[int, bytes]:
    """(status, body) of GET PATH over HTTPS (HTTP/1.0: the server closes when done)."""
    sock = _tls(address, port, cert_sha256, timeout)
    try:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise RfbError(f"{address}:{port}: not an HTTP answer: {head[:80]!r}") from None
    return status, body


@dataclass
class _WebSocket:
    sock: ssl.SSLSocket
    buffer: bytearray = field(default_factory=bytearray)

    def send(self, payload: bytes) -> None:
        """One masked binary frame (clients must mask, RFC 6455 5.3)."""
        mask = os.urandom(4)
        header = bytes([0x82])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise RfbError("the desktop closed the connection")
            data += chunk
        return data

    def _frame(self) -> tuple[int, bytes]:
        first, second = self._exactly(2)
        n = second & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._exactly(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._exactly(8))[0]
        mask = self._exactly(4) if second & 0x80 else b""
        payload = self._exactly(n)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return first & 0x0F, payload

    def read(self, n: int) -> bytes:
        """N bytes of the RFB stream (frames joined; pings answered)."""
        while len(self.buffer) < n:
            opcode, payload = self._frame()
            if opcode == 0x8:
                raise RfbError("the desktop closed the websocket")
            if opcode == 0x9:  # ping → pong
                self.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            elif opcode in (0x0, 0x1, 0x2):
                self.buffer += payload
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data


def _websocket(address: str, port: int, cert_sha256: str | None, timeout: float) -> _WebSocket:
    sock = _tls(address, port, cert_sha256, timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /websockify HTTP/1.1\r\nHost: {address}:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Protocol: binary\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise RfbError(f"{address}:{port}: no websocket answer")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        sock.close()
        raise RfbError(f"{address}:{port}: websocket refused: {head.splitlines()[0]!r}")
    expected = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    if expected not in head:
        sock.close()
        raise RfbError(f"{address}:{port}: bad Sec-WebSocket-Accept")
    return _WebSocket(sock)


@dataclass
class VncSession:
    """An authenticated VNC session through noVNC."""

    ws: _WebSocket
    width: int = 0
    height: int = 0
    desktop_name: str = ""
    bytes_per_pixel: int = 4

    def region(self, x: int, y: int, width: int, height: int) -> bytes:
        """The pixels of a region (the server's pixel format, raw encoding), row by row."""
        self.ws.send(struct.pack(">BxH i", 2, 1, 0))  # SetEncodings: raw only
        self.ws.send(struct.pack(">BBHHHH", 3, 0, x, y, width, height))
        bpp = self.bytes_per_pixel
        pixels = bytearray(width * height * bpp)
        while True:
            kind = self.ws.read(1)[0]
            if kind != 0:  # bell, colour map, cut text: skip what we did not ask for
                self._skip(kind)
                continue
            (rectangles,) = struct.unpack(">xH", self.ws.read(3))
            for _ in range(rectangles):
                rx, ry, rw, rh, encoding = struct.unpack(">HHHHi", self.ws.read(12))
                if encoding != 0:
                    raise RfbError(f"unexpected encoding {encoding}")
                data = self.ws.read(rw * rh * bpp)
                for row in range(rh):
                    start = ((ry - y + row) * width + (rx - x)) * bpp
                    pixels[start:start + rw * bpp] = data[row * rw * bpp:(row + 1) * rw * bpp]
            return bytes(pixels)

    def use_rgb(self) -> None:
        """Ask for 32-bit true colour, little-endian, red at bit 16 (pixels as B, G, R, X)."""
        self.ws.send(struct.pack(">BxxxBBBBHHHBBBxxx", 0, 32, 24, 0, 1, 255, 255, 255,
                                 16, 8, 0))
        self.bytes_per_pixel = 4

    def screenshot(self, width: int) -> tuple[int, int, bytes]:
        """The whole screen scaled to WIDTH pixels across (nearest pixel): (width, height,
        RGB bytes). Only asks for pixels: no key or pointer event is ever sent."""
        self.use_rgb()
        full_width, full_height = self.width, self.height
        pixels = self.region(0, 0, full_width, full_height)
        width = max(1, min(width, full_width))
        height = max(1, round(full_height * width / full_width))
        columns = [x * full_width // width * 4 for x in range(width)]
        out = bytearray(width * height * 3)
        for y in range(height):
            row = (y * full_height // height) * full_width * 4
            line = pixels[row:row + full_width * 4]
            at = y * width * 3
            out[at:at + width * 3] = bytes(b for x in columns
                                           for b in (line[x + 2], line[x + 1], line[x]))
        return width, height, bytes(out)

    def _skip(self, kind: int) -> None:
        if kind == 2:  # Bell
            return
        if kind == 3:  # ServerCutText
            length = struct.unpack(">xxxI", self.ws.read(7))[1]
            self.ws.read(length)
            return
        raise RfbError(f"unexpected server message {kind}")

    def close(self) -> None:
        self.ws.sock.close()

    def __enter__(self) -> VncSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_session(address: str, port: int, password: str, cert_sha256: str | None = None,
                 timeout: float = 10) -> VncSession:
    """Log in to the desktop's VNC server through noVNC; VncAuthFailed if the password is
    refused."""
    ws = _websocket(address, port, cert_sha256, timeout)
    try:
        version = ws.read(12)
        if not version.startswith(b"RFB 003."):
            raise RfbError(f"not a VNC server: {version!r}")
        ws.send(b"RFB 003.008\n")
        count = ws.read(1)[0]
        if count == 0:
            length = struct.unpack(">I", ws.read(4))[0]
            raise RfbError(f"the VNC server refused: {ws.read(length).decode(errors='replace')}")
        types = ws.read(count)
        if VNC_AUTH not in types:
            raise RfbError(f"the VNC server does not offer VNC authentication: {list(types)}")
        ws.send(bytes([VNC_AUTH]))
        ws.send(auth_response(password, ws.read(16)))
        if struct.unpack(">I", ws.read(4))[0] != 0:
            length = struct.unpack(">I", ws.read(4))[0]
            reason = ws.read(length).decode(errors="replace")
            raise VncAuthFailed(f"{address}:{port}: VNC authentication failed: {reason}")
        ws.send(b"\x01")  # ClientInit: shared, as noVNC asks
        width, height = struct.unpack(">HH", ws.read(4))
        bits_per_pixel = ws.read(16)[0]  # the server's pixel format; we keep it
        name = ws.read(struct.unpack(">I", ws.read(4))[0]).decode(errors="replace")
    except BaseException:
        ws.sock.close()
        raise
    return VncSession(ws, width, height, name, bits_per_pixel // 8)
