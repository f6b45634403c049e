"""What IAM enforcement costs on the local cloud (not part of the test run). Prints:

- the pure evaluator: checks per second for an instructor-like policy with a tag condition;
- the endpoint: median latency of DescribeInstances and of a refused StopInstances, signed by
  the local cloud's own credentials (no evaluation) and by an IAM user (evaluated).

Run as root, under the machine's local-cloud test lock:
  flock /tmp/sclust-localcloud-tests.lock python bench/bench_iam.py [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "localcloud"))

POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
    {"Effect": "Allow", "Action": ["ec2:StartInstances", "ec2:StopInstances"],
     "Resource": "arn:aws:ec2:*:123456789012:instance/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/course": "bio101"}}},
    {"Effect": "Deny", "Action": "ec2:TerminateInstances", "Resource": "*"}]})


def bench_evaluator(rounds: int = 20000) -> float:
    from sclust.localcloud.iam_eval import Check, evaluate

    check = Check("ec2:StopInstances", "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc",
                  {"aws:ResourceTag/course": "bio101", "ec2:Region": "us-east-1"})
    start = time.perf_counter()
    for _ in range(rounds):
        evaluate([POLICY], check)
    return rounds / (time.perf_counter() - start)


def median_ms(call, requests: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        try:
            call()
        except Exception:  # a refusal is the answer measured
            pass
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench_endpoint(requests: int) -> list[tuple[str, float, float]]:
    from iam_helpers import client_as, make_user
    from localcloud_helpers import connect

    from sclust.localcloud import control

    state = Path(tempfile.mkdtemp(prefix="bench-iam-"))
    os.environ["SCLUST_LOCAL_PORT"] = "0"
    endpoint = control.up(state)
    try:
        cloud = connect(state, endpoint.url)
        keys = make_user(cloud, "bench", POLICY)
        user = client_as(cloud, keys)
        rows = []
        for name, root_call, user_call in (
                ("DescribeInstances", cloud.ec2.describe_instances, user.describe_instances),
                ("StopInstances (unknown id)",
                 lambda: cloud.ec2.stop_instances(InstanceIds=["i-0123456789abcdef0"]),
                 lambda: user.stop_instances(InstanceIds=["i-0123456789abcdef0"]))):
            rows.append((name, median_ms(root_call, requests), median_ms(user_call, requests)))
        return rows
    finally:
        control.down(state)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print(f"evaluator: {bench_evaluator():,.0f} checks/s (3 statements, one tag condition)")
    print(f"{'request':<28} {'root (ms)':>10} {'IAM user (ms)':>14}")
    for name, root, user in bench_endpoint(args.requests):
        print(f"{name:<28} {root:>10.2f} {user:>14.2f}")


if __name__ == "__main__":
    main()
