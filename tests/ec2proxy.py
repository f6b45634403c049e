"""A small HTTP proxy in front of the moto server, on loopback: it slows every EC2 call (so a
signal lands mid-launch), answers armed calls with an EC2 error instead of forwarding them, and
runs a callback before an action (e.g. another user takes a volume). For the real `sclust` in
a subprocess, where botocore hooks cannot reach."""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Fault:
    code: str
    status: int
    after: int  # calls of the action that pass first
    times: int  # calls answered with the error after those


@dataclass
class ProxyState:
    upstream: str
    delay: tuple[float, float] = (0.0, 0.0)
    seed: int = 0
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    before: dict[str, Callable[[int], None]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    # Called with the number of every EC2 call (all actions) and its action, before its delay.
    on_call: Callable[[int, str], None] | None = None
    total: int = 0
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def wait_idle(self, timeout: float = 10) -> None:
        """Until no call is being delayed or forwarded (a client that gave up on one does not
        stop the proxy from forwarding it: EC2 too acts on what it received)."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.05)

    def arm(self, action: str, code: str, times: int = 1, after: int = 0,
            status: int = 400) -> None:
        """The calls of ACTION after the first AFTER fail with CODE, TIMES of them."""
        with self.lock:
            self.faults.setdefault(action, []).append(Fault(code, status, after, times))

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.before.clear()
            self.calls.clear()

    def next_call(self, action: str) -> tuple[int, int, Fault | None, float]:
        """Count a call of ACTION: its number, the number of all calls so far, the fault to
        answer with, and its delay."""
        with self.lock:
            number = self.calls[action] = self.calls.get(action, 0) + 1
            self.total += 1
            fault = None
            for armed in self.faults.get(action, []):
                if armed.times > 0 and number > armed.after:
                    armed.times -= 1
                    fault = armed
                    break
            return number, self.total, fault, self.random.uniform(*self.delay)


def error_body(code: str) -> bytes:
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}"
            f"</Code><Message>injected {code}</Message></Error></Errors>"
            f"<RequestID>proxy</RequestID></Response>").encode()


def handler_for(state: ProxyState) -> type[BaseHTTPRequestHandler]:
    upstream = urlsplit(state.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            form = parse_qs(body.decode("utf-8", "replace"))
            action = (form.get("Action") or [""])[0]
            with state.lock:
                state.in_flight += 1
            try:
                self.answer(action, body)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def answer(self, action: str, body: bytes) -> None:
            if action:
                number, total, fault, delay = state.next_call(action)
                if state.on_call is not None:
                    state.on_call(total, action)
                time.sleep(delay)
                callback = state.before.get(action)
                if callback is not None:
                    callback(number)
                if fault is not None:
                    self.reply(fault.status, error_body(fault.code),
                               [("Content-Type", "text/xml")])
                    return
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port,
                                                    timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "content-length")}
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
                self.reply(answer.status, data, [
                    (k, v) for k, v in answer.getheaders()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                         "server", "date")])
            finally:
                connection.close()

        def reply(self, status: int, data: bytes, headers: list[tuple[str, str]]) -> None:
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = forward

    return Handler


@contextmanager
def ec2_proxy(upstream: str, delay: tuple[float, float] = (0.0, 0.0), seed: int = 0
              ) -> Iterator[tuple[str, ProxyState]]:
    """A proxy to UPSTREAM on 127.0.0.1 for the block: its URL and its state."""
    state = ProxyState(upstream, delay, seed)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    server.daemon_threads = True
    # A client interrupted mid-call closes its connection: not the proxy's error to print.
    server.handle_error = lambda request, address: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, name="ec2-proxy", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
