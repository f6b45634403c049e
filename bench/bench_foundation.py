"""Foundation benchmarks: `sclust --help` wall time, and EC2 API calls per operation vs N.

Run: python bench/bench_foundation.py   (starts its own moto server on 127.0.0.1)
Goals: --help <= 0.3 s; API calls independent of N, <= 15 for start, <= 2 for listclusters.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                   "AWS_DEFAULT_REGION": "us-east-1", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"})

from tests.conftest import cluster_config, free_port, write_key  # noqa: E402


def help_time(runs: int = 10) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sclust.cli", "--help"], cwd=REPO,
                       capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def api_calls(url: str, sizes: list[int]) -> list[tuple[int, int, int, int, Counter]]:
    import requests

    from sclust.cluster import ClusterManager
    from sclust.config import AwsSettings, load_config
    from sclust.ec2 import EC2
    from sclust.keys import public_key_openssh
    from sclust.progress import Progress

    rows = []
    for size in sizes:
        requests.post(f"{url}/moto-api/reset", timeout=10)
        cloud = EC2(AwsSettings(region="us-east-1", endpoint_url=url))
        calls: Counter = Counter()

        def count(event_name: str, calls: Counter = calls, **_: object) -> None:
            calls.update([event_name.split(".")[-1]])

        cloud.client.meta.events.register("before-call.ec2.*", count)
        with tempfile.TemporaryDirectory() as tmp:
            key = write_key(Path(tmp) / "k.pem")
            cloud.import_key_pair("mykey", public_key_openssh(key))
            template = load_config(cluster_config(Path(tmp), key, size=size)).template()
            manager = ClusterManager(cloud, Progress(quiet=True))
            calls.clear()
            manager.start("bench", template, configure=False)
            start_calls = sum(calls.values())
            start_detail = Counter(calls)
            calls.clear()
            manager.list_clusters()
            list_calls = sum(calls.values())
            calls.clear()
            manager.terminate("bench")
            terminate_calls = sum(calls.values())
        rows.append((size, start_calls, list_calls, terminate_calls, start_detail))
    return rows


def main() -> None:
    median, best = help_time()
    print("| measure | value | goal |")
    print("|---|---|---|")
    print(f"| `sclust --help` wall time (median of 10) | {median:.3f} s (best {best:.3f} s) "
          "| <= 0.3 s |")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        rows = api_calls(f"http://127.0.0.1:{port}", [2, 10, 50])
    finally:
        server.terminate()
        server.wait()
    print()
    print("| nodes N | start --create-only | listclusters | terminate |")
    print("|---|---|---|---|")
    for size, start, listing, terminate, _ in rows:
        print(f"| {size} | {start} | {listing} | {terminate} |")
    print()
    print("start calls by operation (N=50):",
          ", ".join(f"{op} {n}" for op, n in sorted(rows[-1][4].items())))


if __name__ == "__main__":
    main()
