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
    assert set(data) == {"trace", "settings", "bounds", "references", "saturation", "results"}
    assert data["settings"]["policies"] == {"idle-timeout": {"idle_timeout": 120.0}}
    # Only LB0 is a bound; the zero-wait OPT is a reference, labelled so.
    assert set(data["bounds"]) == {"lb0"}
    assert 0 < data["bounds"]["lb0"] <= data["references"]["zero_wait_opt"]
    assert data["saturation"]["saturated"] is False
    assert data["settings"]["live_rules"] is True and data["settings"]["capped_work_share"] == 0
    (row,) = data["results"]
    assert row["policy"] == "idle-timeout"
    assert row["node_hours"] >= data["bounds"]["lb0"]
    assert row["cost"] == pytest.approx(row["node_hours"] * 0.34, abs=0.01)
    for key in ("wait_mean", "wait_p50", "wait_p95", "wait_p99", "bounded_slowdown",
                "makespan", "launches", "x_lb0", "x_ref", "at_max_share"):
        assert key in row
    waste = row["waste"]
    assert set(waste) == {"busy", "partly_used", "idle", "booting", "draining", "rounding"}
    assert sum(waste.values()) == pytest.approx(row["node_hours"], abs=0.01)
    assert waste["booting"] > 0 and waste["draining"] > 0  # boots and removals are billed


def test_compare_prints_every_policy_and_writes_the_plot(tmp_path):
    pytest.importorskip("matplotlib")
    trace = small_trace(tmp_path)
    plot = tmp_path / "out.png"
    result = CliRunner().invoke(simulate, [str(trace), "--compare", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    for name in ("sclust", "starcluster", "idle-timeout", "static", "bound: LB0",
                 "reference, not a bound: zero-wait OPT"):
        assert name in result.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_traces_each_policys_front_and_says_what_lies_beyond_ours(tmp_path):
    pytest.importorskip("matplotlib")
    trace = small_trace(tmp_path)
    result = CliRunner().invoke(
        simulate, [str(trace), "--compare", "--sweep", "--plot", str(tmp_path / "f.png"),
                   "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    sweep = data["sweep"]
    assert [len(sweep[name]) for name in ("sclust", "idle-timeout", "starcluster")] == [20, 8, 4]
    assert {r["dial"]["idle_timeout"] for r in sweep["idle-timeout"]} >= {60.0, 1200.0}
    assert set(data["beyond_sclust_front"]) == {"idle-timeout", "starcluster"}
    lb0 = data["bounds"]["lb0"]
    assert all(r["node_hours"] >= lb0 for rows in sweep.values() for r in rows)
    text = CliRunner().invoke(simulate, [str(trace), "--compare", "--sweep", "--plot",
                                         str(tmp_path / "g.png")])
    assert "fronts (cost vs p95" in text.stdout
    assert "beyond sclust's front" in text.stdout


def test_sweep_needs_compare(tmp_path):
    result = CliRunner().invoke(simulate, [str(small_trace(tmp_path)), "--sweep"])
    assert isinstance(result.exception, SclustError)


def test_capping_that_cuts_much_work_is_refused_unless_accepted(tmp_path):
    trace = str(small_trace(tmp_path))  # jobs of 1-16 slots: at 1 node of 8, 16-slot ones cut
    result = CliRunner().invoke(simulate, [trace, "--max-nodes", "1", "--json"])
    assert isinstance(result.exception, SclustError)
    assert "--accept-capping" in str(result.exception)
    result = CliRunner().invoke(simulate, [trace, "--max-nodes", "1", "--json",
                                           "--accept-capping"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["settings"]["capped_work_share"] > 0.10
    assert "capped to that width" in result.stderr


def test_wait_target_spends_less_for_longer_waits(tmp_path):
    trace = str(small_trace(tmp_path))

    def run(*extra: str) -> dict:
        out = CliRunner().invoke(simulate, [trace, "--json", *extra]).stdout
        return json.loads(out)["results"][0]

    tight, loose = run("--wait-target", "30"), run("--wait-target", "1800")
    assert loose["node_hours"] < tight["node_hours"]
    # Met within a few percent on this tiny trace (the boot is lognormal; the launch may wait
    # for the one under way).
    assert loose["wait_p95"] <= 1.05 * 1800 and tight["wait_p95"] < loose["wait_p95"]


def test_boot_samples_are_drawn_from_and_set_the_boot_time(tmp_path):
    samples = tmp_path / "boots.txt"
    samples.write_text("# measured\n200\n220\n\n240\n")
    out = CliRunner().invoke(simulate, [str(small_trace(tmp_path)), "--json",
                                        "--boot-samples", str(samples)]).stdout
    data = json.loads(out)
    assert data["settings"]["boot_time"] == 220 and data["settings"]["boot_samples"] == 3
    assert data["results"][0]["wait_p50"] >= 200 or data["results"][0]["wait_p95"] >= 200
    samples.write_text("fast\n")
    result = CliRunner().invoke(simulate, [str(small_trace(tmp_path)), "--boot-samples",
                                           str(samples)])
    assert isinstance(result.exception, SclustError)


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


def test_launch_times_the_live_loop_records_are_boot_samples_for_simulate(tmp_path):
    from sclust.elastic.cli import read_boot_samples
    from sclust.elastic.live import record_boot

    log = tmp_path / "TAG" / "boots.txt"
    said: list[str] = []
    for seconds, nodes in ((95.0, 1), (140.25, 3), (120.0, 2)):
        record_boot(log, seconds, nodes, said.append)
    assert read_boot_samples(str(log)) == (95.0, 140.2, 120.0) and not said
    blocked = tmp_path / "file"
    blocked.write_text("")
    record_boot(blocked / "boots.txt", 1.0, 1, said.append)  # never raises
    assert said and "could not record" in said[0]
