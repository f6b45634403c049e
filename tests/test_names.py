"""One naming rule for cluster tags, courses, aliases and templates, checked everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sclust.cli import main
from sclust.config import load_config
from sclust.errors import ConfigError
from sclust.names import check_name, child_path
from sclust.paths import known_hosts_file
from tests.conftest import cluster_config

HOSTILE = ["", "-x", "../../victim", "a/b", "a b", "a\nb", "$(id)", "a;b", "a|b", "a&b",
           "x" * 300, "node-", "`id`"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        check_name(name, "cluster tag")


@pytest.mark.parametrize("name", ["a", "demo", "my-cluster-2", "X1", "x" * 40])
def test_ordinary_names_pass(name: str) -> None:
    assert check_name(name, "cluster tag") == name


@pytest.mark.parametrize("argv", [
    ["terminate", "", "--yes"],
    ["terminate", "../../victim", "--yes"],
    ["stop", "a b", "--yes"],
    ["listclusters", "$(id)"],
    ["addnode", "demo", "-a", "node1;id"],
    ["sshnode", "demo", "../x"],
    ["loadbalance", "x" * 300],
    ["desktops", "terminate", "a/b", "--yes"],
    ["desktops", "start", "--", "-x"],
])
def test_the_cli_refuses_a_bad_name_before_touching_anything(argv: list[str],
                                                             tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["-c", str(tmp_path / "no-config"), *argv])
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    assert "no-config" not in result.output  # refused before the config was even read
    assert any(word in result.output for word in ("tag", "course", "alias", "may hold",
                                                  "is empty", "characters long")), result.output


def test_state_paths_cannot_leave_their_directory(tmp_path: Path) -> None:
    for name in ("../victim", "a/b", ""):
        with pytest.raises(ValueError):
            child_path(tmp_path, name)
        with pytest.raises(ValueError):
            known_hosts_file("us-east-1", name)
    with pytest.raises(ValueError):
        known_hosts_file("../../etc", "demo")
    assert child_path(tmp_path, "demo", ".json") == tmp_path / "demo.json"


def test_a_template_name_that_breaks_the_rule_is_a_config_error(tmp_path: Path,
                                                                key_file: Path) -> None:
    path = cluster_config(tmp_path, key_file)
    text = path.read_text().replace("[cluster small]", "[cluster sm all$(x)]")
    path.write_text(text.replace("DEFAULT_TEMPLATE = small\n", "\n"))
    # A mistake in one section no longer stops every command (issue 13): it is that
    # section's problem, an error for `validate` and for any command that uses it.
    config = load_config(path)
    assert any(f"{path}:7: [cluster sm all$(x)]: the name" in line for line in config.problems)
    with pytest.raises(ConfigError) as caught:
        config.template("small")
    assert "no [cluster small]" in str(caught.value)
