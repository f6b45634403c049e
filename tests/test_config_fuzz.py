"""A seeded config fuzzer (suite): mutated configs end with exit 0 or 1, never "unexpected",
and every error names file and line."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sclust.cli import main
from tests.conftest import REPO, write_key

SEED = 20261130
MUTANTS = 300
TIME_LIMIT = 60.0  # seconds for all of them: the family stays cheap
JUNK = ["$(id)", "`id`", ";", "|", "&", "\t", "#", "[", "]", "=", ":", "%(x)s", "~nouser/x",
        "\u00e9", "\u202e", "nan", "inf", "-1", "0", "1_000", "1e309", "x" * 5000, "/dev/zero",
        " , ", "..", "../../etc/passwd", "ami-", "vol-", "t3.", "\\", "\"", "'"]
LINE_ERROR = re.compile(r"^sclust: error: (?P<file>[^:]+):(?P<line>\d+)[: ]")


def seeds(tmp_path: Path) -> list[str]:
    key = write_key(tmp_path / "k.pem")
    texts = [path.read_text() for path in sorted((REPO / "configs").glob("*.ini"))]
    texts = [re.sub(r"KEY_LOCATION\s*=.*", f"KEY_LOCATION = {key}", t) for t in texts]
    # Never the local cloud: a mutant that still reads (a mistake in a section listclusters
    # does not use is only a warning) would start a local cloud daemon and leave it running.
    return [re.sub(r"(?im)^CLOUD\s*=.*$", "CLOUD = aws", t) for t in texts]


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 4)):
        if not lines:
            break
        at = rng.randrange(len(lines))
        choice = rng.randrange(8)
        if choice == 0:
            del lines[at]
        elif choice == 1:
            lines.insert(rng.randrange(len(lines) + 1), lines[at])
        elif choice == 2 and "=" in lines[at]:
            key, _, _ = lines[at].partition("=")
            lines[at] = f"{key}= {rng.choice(JUNK)}"
        elif choice == 3:
            position = rng.randrange(len(lines[at]) + 1)
            lines[at] = lines[at][:position] + rng.choice(JUNK) + lines[at][position:]
        elif choice == 4:
            lines[at] = rng.choice(["[", "[ ]", "[cluster]", "[cluster a b]", "[nosuch x]",
                                    "KEY", "= value", " indented = x", "[global]"])
        elif choice == 5:
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
        elif choice == 6:
            lines[at] = lines[at][: rng.randrange(len(lines[at]) + 1)]
        else:
            lines[at] = lines[at].lower() if rng.random() < 0.5 else lines[at].upper()
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("command", [["validate"], ["listclusters", "--json"]])
def test_mutated_configs_fail_cleanly_with_file_and_line(tmp_path: Path, command: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # No EC2 anywhere: listclusters must fail on the config, or on a refused endpoint.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    # A mutant of configs/local.ini says CLOUD = local: starting a real local cloud here
    # would leave its daemon running after the test (its state dir under tmp_path, the
    # machine's one local cloud taken) and block every local-cloud test on the machine.
    asked: list[int] = []

    def no_local_cloud(state_dir: Path | None = None) -> None:
        from sclust.localcloud.errors import LocalCloudError

        asked.append(1)
        raise LocalCloudError("the config fuzzer starts no local cloud")

    monkeypatch.setattr("sclust.localcloud.ensure_running", no_local_cloud)
    rng = random.Random(SEED + len(command))
    bases = seeds(tmp_path)
    runner = CliRunner()
    started = time.monotonic()
    failures = []
    tried = 0
    for number in range(MUTANTS if command == ["validate"] else MUTANTS // 6):
        if time.monotonic() - started > TIME_LIMIT:
            break
        config = tmp_path / f"mutant{number}.ini"
        config.write_text(mutate(rng.choice(bases), rng))
        result = runner.invoke(main, ["-c", str(config), *command])
        tried += 1
        output = result.output
        problems = []
        if result.exit_code not in (0, 1):
            problems.append(f"exit {result.exit_code}")
        if "unexpected" in output or "Traceback" in output:
            problems.append("unexpected error")
        for line in output.splitlines():
            match = LINE_ERROR.match(line)
            if line.startswith("sclust: error: ") and str(config) in line and not match:
                problems.append(f"no line number: {line[:200]}")
        if problems:
            failures.append(f"{config.name}: {problems}")
    assert tried >= 40
    assert not asked  # seeds say CLOUD = aws; the refusal above is the safety net
    assert not failures, f"{len(failures)} of {tried} mutants:\n" + "\n".join(failures[:40])
