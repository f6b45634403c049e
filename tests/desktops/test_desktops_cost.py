"""`sclust cost`: the Scipion guide's arithmetic, the shipped table, and [prices] overrides."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sclust.desktops.cost import SHIPPED_TABLE, cost_so_far, load_prices
from sclust.desktops.state import Desktop
from tests.conftest import run_sclust, write_key

CONFIG = """\
[key k]
KEY_LOCATION = {key}

[desktops scipion]
KEYNAME = k
IMAGE_ID = ami-12345678
INSTANCE_TYPE = p2.xlarge
COUNT = 20
VOLUME_SIZE = 30

[cluster hpc]
KEYNAME = k
CLUSTER_SIZE = 4
NODE_IMAGE_ID = ami-12345678
NODE_INSTANCE_TYPE = c5.xlarge:1, m5.large
MASTER_INSTANCE_TYPE = t3.medium
ROOT_VOLUME_SIZE = 20
{extra}"""


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config"
    path.write_text(CONFIG.format(key=write_key(tmp_path / "k.pem"),
                                  extra=textwrap.dedent(extra)))
    return path


def cost_json(path: Path, *args: str) -> dict:
    result = run_sclust("-c", str(path), "cost", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_scipion_guide_example_is_reproduced_with_its_2018_prices(tmp_path: Path) -> None:
    # The guide: p2.xlarge 1.09 $/h for 16 h, 30 GB × 0.133 $/GB-month over 48 h.
    path = config(tmp_path, """
        [prices]
        p2.xlarge = 1.09
        EBS_GB_MONTH = 0.133
        EIP_HOUR = 0.006
        DATE = 2018-01
        """)
    estimate = cost_json(path, "scipion", "--hours", "16", "--days", "2", "--count", "1")
    line = estimate["lines"][0]
    assert line["instance"] == pytest.approx(17.44)
    assert line["disk"] == pytest.approx(0.266)
    assert line["elastic_ip"] == pytest.approx(48 * 0.006)
    assert estimate["prices"]["date"] == "2018-01"
    assert "p2.xlarge" in estimate["prices"]["overridden"]


def test_course_total_is_per_desktop_times_count_from_the_shipped_table(tmp_path: Path) -> None:
    estimate = cost_json(config(tmp_path), "scipion", "--hours", "16", "--days", "2")
    table = json.loads(SHIPPED_TABLE.read_text())
    each = 16 * table["instance_hour"]["p2.xlarge"] + 30 * table["ebs_gb_month"]["gp3"] * \
        48 / 720 + 48 * table["eip_hour"]
    assert estimate["lines"][0]["quantity"] == 20
    assert estimate["total"] == pytest.approx(20 * each, abs=0.01)


def test_cluster_counts_master_and_each_node_type(tmp_path: Path) -> None:
    estimate = cost_json(config(tmp_path), "hpc", "--hours", "10", "--days", "1")
    lines = {line["what"]: line for line in estimate["lines"]}
    assert lines["master (t3.medium)"]["quantity"] == 1
    assert lines["node (c5.xlarge)"]["quantity"] == 1
    assert lines["node (m5.large)"]["quantity"] == 2
    assert lines["node (m5.large)"]["instance"] == pytest.approx(10 * 0.096)
    assert lines["master (t3.medium)"]["elastic_ip"] == 0


def test_shipped_table_is_dated_and_has_the_course_types() -> None:
    table = load_prices(None)
    assert table.date and table.region == "us-east-1"
    for instance_type in ("g4dn.xlarge", "p2.xlarge", "t3.medium", "c5.xlarge", "m5.large"):
        assert table.hourly(instance_type) > 0
    assert table.eip_hour == 0.005


def test_unknown_type_and_bad_override_are_clear_errors(tmp_path: Path) -> None:
    path = config(tmp_path, "\n[prices]\nm5.large = cheap\n")
    result = run_sclust("-c", str(path), "cost", "hpc")
    assert result.returncode == 1
    assert "[prices] M5.LARGE: 'cheap' is not a price" in result.stderr
    path = config(tmp_path)
    path.write_text(path.read_text().replace("p2.xlarge", "x9.huge"))
    result = run_sclust("-c", str(path), "cost", "scipion", "--hours", "8")
    assert result.returncode == 1
    assert "no price for x9.huge" in result.stderr and "[prices]" in result.stderr
    result = run_sclust("-c", str(path), "cost", "scipoin")
    assert "did you mean 'scipion'" in result.stderr
    result = run_sclust("-c", str(path), "cost", "hpc", "--hours", "30", "--days", "1")
    assert "do not fit" in result.stderr


def test_cost_so_far_counts_earlier_runs_and_the_current_one() -> None:
    now = datetime.now(timezone.utc)
    desktop = Desktop(number=1, instance_id="i-1", state="running", student=None,
                      instance_type="t3.medium", public_ip=None, private_ip=None,
                      launch_time=now - timedelta(hours=2), setup_done=True,
                      run_seconds=3 * 3600, counted_until=0)
    assert desktop.running_seconds(now) == pytest.approx(5 * 3600)
    prices = load_prices(None)
    dollars = cost_so_far(prices, "t3.medium", desktop.running_seconds(now), 24 * 3600, 10,
                          True)
    assert dollars == pytest.approx(5 * 0.0416 + 10 * 0.08 * 24 / 720 + 24 * 0.005)
