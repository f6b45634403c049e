"""The VNC client (RFB through noVNC's websocket over HTTPS) and VNC's DES, against a real
TigerVNC server and websockify on this machine's loopback (no local cloud needed)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sclust.desktops.rfb import RfbError, VncAuthFailed, https_get, open_session
from sclust.desktops.vncauth import (
    auth_response,
    generate_password,
    password_file,
    view_password,
)
from tests.conftest import require

PASSWORD = "Pw7kq2Mx"


def test_password_file_matches_a_known_vncpasswd_vector() -> None:
    # `vncpasswd` stores "password" as these bytes (the well-known fixed-key DES result).
    assert password_file("password").hex() == "dbd83cfd727a1458"


def test_auth_response_uses_only_eight_characters_and_bit_reversed_keys() -> None:
    challenge = bytes(range(16))
    assert auth_response("12345678", challenge) == auth_response("123456789", challenge)
    assert auth_response("12345678", challenge) != auth_response("12345679", challenge)
    assert len(auth_response("ab", challenge)) == 16


def test_generated_passwords_are_eight_unambiguous_characters() -> None:
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    assert all(len(p) == 8 and not set(p) & set("0O1lI") for p in passwords)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args[0]} exited {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@dataclass
class Desktop:
    port: int
    password_path: Path
    fingerprint: str
    display: int = 0


@pytest.fixture(scope="module")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    for program in ("Xtigervnc", "websockify", "openssl"):
        require(shutil.which(program) is not None,
                f"{program} is not installed (quickstart.sh installs it)")
    work = tmp_path_factory.mktemp("vnc")
    passwd = work / "passwd"
    passwd.write_bytes(password_file(PASSWORD))
    passwd.chmod(0o600)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=t",
                    "-keyout", str(work / "key"), "-out", str(work / "crt")],
                   check=True, capture_output=True)
    fingerprint = subprocess.run(
        ["openssl", "x509", "-in", str(work / "crt"), "-noout", "-fingerprint", "-sha256"],
        check=True, capture_output=True, text=True).stdout.strip().split("=")[1]
    display = next(n for n in range(57, 99) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                   and not Path(f"/tmp/.X{n}-lock").exists())
    rfb, web = _free_port(), _free_port()
    xvnc = subprocess.Popen(
        ["Xtigervnc", f":{display}", "-localhost", "-interface", "127.0.0.1", "-rfbport",
         str(rfb), "-SecurityTypes", "VncAuth", "-PasswordFile", str(passwd), "-desktop",
         "loopback-desk", "-geometry", "320x200", "-depth", "24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = subprocess.Popen(
        ["websockify", "--web", "/usr/share/novnc", "--cert", str(work / "crt"), "--key",
         str(work / "key"), "--ssl-only", f"127.0.0.1:{web}", f"127.0.0.1:{rfb}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(rfb, xvnc)
        _wait_port(web, proxy)
        yield Desktop(web, passwd, fingerprint, display)
    finally:
        for process in (proxy, xvnc):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_novnc_page_is_served_over_https_with_the_desktops_certificate(desktop) -> None:
    status, body = https_get("127.0.0.1", desktop.port, "/vnc.html", desktop.fingerprint)
    assert status == 200 and b"noVNC" in body


def test_right_password_opens_the_desktop(desktop) -> None:
    with open_session("127.0.0.1", desktop.port, PASSWORD, desktop.fingerprint) as session:
        assert (session.desktop_name, session.width, session.height) == \
            ("loopback-desk", 320, 200)
        assert len(session.region(0, 190, 320, 10)) == 320 * 10 * session.bytes_per_pixel


def test_wrong_password_is_refused(desktop) -> None:
    with pytest.raises(VncAuthFailed):
        open_session("127.0.0.1", desktop.port, "Wr0ngpw9", desktop.fingerprint)


def test_another_certificate_is_refused_before_any_password_is_sent(desktop) -> None:
    with pytest.raises(RfbError, match="is not the desktop's"):
        open_session("127.0.0.1", desktop.port, PASSWORD, "AB:" * 31 + "CD")


def test_a_new_password_file_applies_without_restarting_the_server(desktop) -> None:
    desktop.password_path.write_bytes(password_file("N3wpassw"))
    try:
        with open_session("127.0.0.1", desktop.port, "N3wpassw", desktop.fingerprint):
            pass
        with pytest.raises(VncAuthFailed):
            open_session("127.0.0.1", desktop.port, PASSWORD, desktop.fingerprint)
    finally:
        desktop.password_path.write_bytes(password_file(PASSWORD))


def colours(rgb: bytes) -> set[bytes]:
    return {rgb[i:i + 3] for i in range(0, len(rgb), 3)}


def _type(session, text: str) -> None:  # noqa: ANN001 - a VncSession
    """Point at the top-left window and type TEXT then Return: RFB PointerEvent/KeyEvents."""
    import struct

    session.ws.send(struct.pack(">BBHH", 5, 0, 20, 20))
    for keysym in [ord(c) for c in text] + [0xFF0D]:
        for down in (1, 0):
            session.ws.send(struct.pack(">BBxxI", 4, down, keysym))
    session.region(0, 0, 1, 1)  # a round trip: the server has read the events


def test_the_view_only_password_shows_the_screen_and_types_nothing(desktop,
                                                                    tmp_path: Path) -> None:
    require(shutil.which("xterm") is not None, "xterm is not installed")
    typed = tmp_path / "typed"
    typed.write_text("")
    desktop.password_path.write_bytes(password_file(PASSWORD, view_password(PASSWORD)))
    xterm = subprocess.Popen(
        ["xterm", "-display", f":{desktop.display}", "-geometry", "30x6+0+0", "-e", "sh",
         "-c", f"stty -echo; cat > {typed}"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        viewer = view_password(PASSWORD)
        assert viewer != PASSWORD and len(viewer) == 8
        deadline = time.monotonic() + 15
        while True:  # until xterm has drawn its window
            with open_session("127.0.0.1", desktop.port, viewer, desktop.fingerprint) as s:
                width, height, rgb = s.screenshot(160)
            if len(colours(rgb)) > 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (width, height) == (160, 100) and len(rgb) == 160 * 100 * 3
        assert len(colours(rgb)) > 1, "the screenshot is uniform: no window drawn"

        with open_session("127.0.0.1", desktop.port, viewer, desktop.fingerprint) as session:
            _type(session, "viewer")
        time.sleep(0.5)
        assert typed.read_text() == ""  # the view-only session's keys went nowhere
        with open_session("127.0.0.1", desktop.port, PASSWORD, desktop.fingerprint) as session:
            _type(session, "student")
        deadline = time.monotonic() + 5
        while typed.read_text() == "" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert typed.read_text() == "student\n"  # the same keys with the full password
    finally:
        xterm.terminate()
        xterm.wait(10)
        desktop.password_path.write_bytes(password_file(PASSWORD))


def test_the_wall_takes_a_png_view_only_and_falls_back_for_an_older_desktop(desktop) -> None:
    from sclust.desktops.wall import capture

    try:
        desktop.password_path.write_bytes(password_file(PASSWORD, view_password(PASSWORD)))
        png, width, height, view_only = capture("127.0.0.1", desktop.port, PASSWORD, width=64)
        assert png.startswith(b"\x89PNG") and (width, height, view_only) == (64, 40, True)
        # A desktop set up before view-only passwords (an 8-byte file): refused, unless the
        # instructor asks for the student's own password.
        desktop.password_path.write_bytes(password_file(PASSWORD))
        with pytest.raises(VncAuthFailed, match="--full-password"):
            capture("127.0.0.1", desktop.port, PASSWORD, width=64)
        assert capture("127.0.0.1", desktop.port, PASSWORD, width=64,
                       full_password=True)[3] is False
        with pytest.raises(VncAuthFailed):
            capture("127.0.0.1", desktop.port, "Wr0ngpw9", width=64)
    finally:
        desktop.password_path.write_bytes(password_file(PASSWORD))
