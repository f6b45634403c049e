"""Scripts travel as files with their inputs as data: nothing in a value runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sclust.scripts import REMOTE_COMMAND, ScriptFile, ScriptRun


@pytest.fixture
def steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    package = tmp_path / "demo_steps"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "greet.sh").write_text(
        'echo "hello $(input who)"\ninput_lines names names\nprintf "[%s]\\n" "${names[@]}"\n'
        'has_input absent || echo "no absent"\nbackground_pid=$$\n')
    (package / "after.sh").write_text('echo "same shell: $background_pid"\nexit 3\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    return "demo_steps"


def run_locally(run: ScriptRun) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", REMOTE_COMMAND], input=run.archive().decode(),
                          capture_output=True, text=True)


def test_inputs_are_data_and_steps_share_one_shell(steps: str, tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    run = ScriptRun().add(ScriptFile(steps, "greet.sh"), who=f"$(touch {planted}); `id`",
                          names=["a b", "c;d"], absent=None)
    run.add(ScriptFile(steps, "after.sh"))
    done = run_locally(run)
    lines = done.stdout.splitlines()
    assert lines[:4] == [f"hello $(touch {planted}); `id`", "[a b]", "[c;d]", "no absent"]
    assert lines[4].startswith("same shell: ") and lines[4] != "same shell: "
    assert done.returncode == 3
    assert not planted.exists()


def test_the_command_line_never_changes_and_no_secret_is_described(steps: str) -> None:
    run = ScriptRun().add(ScriptFile(steps, "greet.sh"), who="s3cret-value", names=[])
    assert "s3cret" not in run.describe() and "s3cret" not in REMOTE_COMMAND
    assert run.describe() == "greet.sh"


def test_bad_input_names_and_conflicting_values_are_refused(steps: str) -> None:
    run = ScriptRun()
    with pytest.raises(ValueError, match="plain identifier"):
        run.set("../x", "1")
    run.set("who", "a")
    with pytest.raises(ValueError, match="twice"):
        run.set("who", "b")
