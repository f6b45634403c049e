"""An endpoint that answers with something other than EC2 gets a clear error, not
"unexpected" (a captive portal, a wrong AWS_REGION_HOST, a proxy's error page)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import cluster_config, run_sclust


class HtmlPage(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"<html><body>Welcome to the hotel wifi</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def html_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HtmlPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_non_ec2_answer_is_a_clear_error(html_endpoint: str, tmp_path: Path,
                                           key_file: Path) -> None:
    config = cluster_config(tmp_path, key_file)
    result = run_sclust("-c", str(config), "listclusters",
                        env={"AWS_ENDPOINT_URL": html_endpoint, "AWS_MAX_ATTEMPTS": "1"})
    assert result.returncode == 1
    assert "not an EC2 response" in result.stderr, result.stderr
    assert "unexpected" not in result.stderr
