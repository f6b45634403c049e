"""A cluster's spend and BUDGET in `listclusters`: the arithmetic on made-up nodes, and the CLI
against moto (the JSON's `cost`, the table's caption, the warning)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from sclust.clustercost import cluster_spend
from sclust.desktops.cost import PriceTable
from sclust.state import ClusterInfo, Node
from tests.conftest import cluster_config, run_sclust

PRICES = PriceTable("2026-01", "us-east-1", "test", {"m.test": 2.0}, ebs_gb_month=0.0,
                    eip_hour=0.0)


def node(alias: str, state: str, hours_ago: float, now: datetime,
         instance_type: str = "m.test") -> Node:
    return Node(f"i-{alias}", alias, "master" if alias == "master" else "node", state,
                instance_type, "ami-1", "us-east-1a", None, None, False,
                now - timedelta(hours=hours_ago))


def test_spend_counts_running_nodes_since_launch_and_projects_to_midnight() -> None:
    now = datetime.now(timezone.utc)
    info = ClusterInfo("demo", "sg-1", None, [
        node("master", "running", 3, now), node("node001", "running", 1, now),
        node("node002", "stopped", 5, now), node("node003", "running", 1, now, "x.unknown")])
    spend = cluster_spend(info, PRICES, now)
    assert spend.spent == pytest.approx((3 + 1) * 2.0)
    to_midnight = (spend.horizon - now).total_seconds() / 3600
    assert 0 < to_midnight <= 24
    assert spend.projected == pytest.approx(spend.spent + 2 * 2.0 * to_midnight)
    assert spend.unpriced == ["x.unknown"] and spend.warning is None


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def test_listclusters_shows_spend_and_warns_over_budget(endpoint: str, tmp_path: Path,
                                                        key_file: Path) -> None:
    config = cluster_config(tmp_path, key_file, "BUDGET = 0.0001\n")
    cfg = ["-c", str(config)]
    assert run_sclust(*cfg, "createkey", "mykey", "-i", str(key_file)).returncode == 0
    assert run_sclust(*cfg, "start", "demo", "--create-only").returncode == 0
    try:
        listed = json.loads(run_sclust(*cfg, "listclusters", "demo", "--json").stdout)[0]
        cost = listed["cost"]
        assert cost["budget"] == 0.0001 and cost["spent"] >= 0
        assert cost["projected"] > cost["budget"]  # three t3.medium until midnight
        table = run_sclust(*cfg, "listclusters", "demo")
        assert "spent ≈ $" in table.stdout and "budget $0.00" in table.stdout
        assert "sclust: warning: cluster demo: " in table.stderr
        assert "over the budget" in table.stderr or "of the budget" in table.stderr
    finally:
        run_sclust(*cfg, "terminate", "demo", "--yes")
