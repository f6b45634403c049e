"""`sclust simulate` as a user runs it (through click, before the main CLI registers it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sclust.elastic.cli import simulate
from sclust.errors import SclustError


def small_trace(tmp_path: Path) -> Path:
    lines = ["; Version: 2"]
    for n in range(60):
        # Bursts of 1–16-slot jobs every 20 minutes, each burst a few minutes long.
        submit = (n // 6) * 1200 + (n % 6) * 30
        lines.append(f"{n + 1} {submit} -1 {200 + 37 * (n % 5)} {2 ** (n % 5)} -1 -1 -1")
    path = tmp_path / "small.swf"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json_has_trace_settings_bounds_and_one_result(tmp_path):
    trace = small_trace(tmp_path)
    result = CliRunner().invoke(
        simulate, [str(trace), "--policy", "idle-timeout", "--idle-timeout", "120", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"trace", "settings", "bounds", "results"}
    assert data["settings"]["policies"] == {"idle-timeout": {"idle_timeout": 120.0}}
    assert 0 < data["bounds"]["lb0"] <= data["bounds"]["opt"]
    (row,) = data["results"]
    assert row["policy"] == "idle-timeout"
    assert row["node_hours"] >= data["bounds"]["lb0"]
    assert row["cost"] == pytest.approx(row["node_hours"] * 0.34, abs=0.01)
    for key in ("wait_mean", "wait_p50", "wait_p95", "wait_p99", "bounded_slowdown",
                "makespan", "launches"):
        assert key in row


def test_compare_prints_every_policy_and_writes_the_plot(tmp_path):
    pytest.importorskip("matplotlib")
    trace = small_trace(tmp_path)
    plot = tmp_path / "out.png"
    result = CliRunner().invoke(simulate, [str(trace), "--compare", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    for name in ("sclust", "starcluster", "idle-timeout", "static", "LB0", "OPT"):
        assert name in result.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hourly_billing_never_costs_less_than_per_second(tmp_path):
    trace = str(small_trace(tmp_path))

    def hours(billing: str) -> float:
        out = CliRunner().invoke(simulate, [trace, "--billing", billing, "--json"]).stdout
        return json.loads(out)["results"][0]["node_hours"]

    assert hours("hour") >= hours("second")


def test_a_missing_trace_is_a_user_error(tmp_path):
    result = CliRunner().invoke(simulate, [str(tmp_path / "missing.swf")])
    assert isinstance(result.exception, SclustError)
    assert "no such trace file" in str(result.exception)


def test_min_above_max_is_a_user_error(tmp_path):
    result = CliRunner().invoke(
        simulate, [str(small_trace(tmp_path)), "--min-nodes", "5", "--max-nodes", "2"]
    )
    assert isinstance(result.exception, SclustError)


def test_importing_the_command_stays_light():
    code = (
        "import sys, sclust.elastic.cli; "
        "print(sorted(m for m in ('numpy', 'matplotlib', 'sclust.elastic.simulator') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
