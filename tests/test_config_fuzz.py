"""A seeded config fuzzer (suite): mutated configs end with exit 0 or 1, never "unexpected",
and every error names file and line."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, write_key

from sclust.cli import main

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
    return texts


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
    # Mutants of configs/local.ini keep CLOUD = local: starting a local cloud here would leave
    # a daemon holding the machine's one-cloud lock after the test (and every local-cloud test
    # of the machine refused). Refuse it as an unreachable cloud would be.
    from sclust.errors import SclustError

    def no_local_cloud(state_dir: object = None) -> object:
        raise SclustError("the local cloud is not started by this test")

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
    assert not failures, f"{len(failures)} of {tried} mutants:\n" + "\n".join(failures[:40])
