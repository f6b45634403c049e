"""Every script a 2-desktop course's start, `desktops run` and the novnc plugin send, rendered
as bash sees it (`sclust.scripts.rendered`): valid bash, shellcheck-clean, and no password in
any step's text or on any command line (credentials travel as inputs, on stdin)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from sclust.scripts import REMOTE_COMMAND, ScriptRun, rendered
from sclust.ssh import Connection, Result
from tests.conftest import require, run_sclust, write_key

CONFIG = """\
[key k]
KEY_LOCATION = {key}

[desktops course]
KEYNAME = k
KIND = {kind}
IMAGE_ID = ami-12345678
INSTANCE_TYPE = t3.medium
COUNT = 2
AUTO_STOP = 18:00
TIMEZONE = Europe/Madrid
IDLE_STOP = 45m
"""
REPORT = ("port {port}\ncert-sha256 AB:CD\ndesktop-user {user}\nauto-stop off\ngpu none\n")


class Sent:
    """What would go to the hosts: each ScriptRun and each command line."""

    def __init__(self) -> None:
        self.runs: list[ScriptRun] = []
        self.command_lines: list[str] = []

    def script(self, run: ScriptRun, port: int = 443, user: str = "student") -> Result:
        self.runs.append(run)
        self.command_lines.append(REMOTE_COMMAND)  # run_script's only command line
        out = REPORT.format(port=port, user=user) if "desktop-start.sh" in run.describe() else ""
        return Result("node", run.describe(), 0, out, "")


def check_scripts(sent: Sent, secrets: list[str], tmp_path: Path) -> None:
    require(Path("/usr/bin/shellcheck").exists(), "no /usr/bin/shellcheck")
    assert sent.runs
    for number, run in enumerate(sent.runs):
        text = rendered(run)
        assert not any(s in text for s in secrets), run.describe()
        assert not any(s in line for s in secrets for line in sent.command_lines)
        syntax = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True)
        assert syntax.returncode == 0, f"{run.describe()}: {syntax.stderr}"
        path = tmp_path / f"rendered-{number}.sh"
        path.write_text(text)
        lint = subprocess.run(["/usr/bin/shellcheck", "-x", "-s", "bash", str(path)],
                              capture_output=True, text=True)
        assert lint.returncode == 0, f"{run.describe()}:\n{lint.stdout}"


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.mark.parametrize(("kind", "steps"), [
    ("novnc", "novnc.sh"), ("novnc, jupyter", "novnc.sh + jupyter.sh"), ("jupyter", "jupyter.sh")])
def test_a_two_desktop_course_and_desktops_run_send_clean_scripts_without_passwords(
        endpoint: str, tmp_path: Path, sclust_home: Path, monkeypatch: pytest.MonkeyPatch,
        kind: str, steps: str) -> None:
    from sclust.config import AwsSettings, load_config
    from sclust.desktops.course import Desktops
    from sclust.desktops.kinds.jupyter import JupyterKind
    from sclust.desktops.kinds.novnc import NoVNCKind
    from sclust.desktops.template import desktops_template
    from sclust.ec2 import EC2
    from sclust.progress import Progress

    path = tmp_path / "config"
    path.write_text(CONFIG.format(key=write_key(tmp_path / "k.pem"), kind=kind))
    assert run_sclust("-c", str(path), "createkey", "k", "-i",
                      str(tmp_path / "k.pem")).returncode == 0
    sent = Sent()
    monkeypatch.setattr(Connection, "open", lambda self, wait=0: None)
    monkeypatch.setattr(Connection, "close", lambda self: None)
    monkeypatch.setattr(Connection, "run_script",
                        lambda self, run, timeout=600, check=True: sent.script(run))

    def plain_run(self, command: str, sudo: bool = False, stdin: str | None = None,
                  timeout: float = 600, check: bool = True) -> Result:
        sent.command_lines.append(command)
        return Result("node", command, 0, "", "")

    monkeypatch.setattr(Connection, "run", plain_run)
    monkeypatch.setattr(NoVNCKind, "ready", lambda self, address, port, timeout=3: True)
    monkeypatch.setattr(JupyterKind, "ready", lambda self, address, port, timeout=3: True)

    desktops = Desktops(EC2(AwsSettings(endpoint_url=endpoint)), Progress(quiet=True),
                        lambda _: tmp_path / "k.pem")
    template = desktops_template(load_config(path), "course")
    desktops.start("course", template)
    assert [r.describe() for r in sent.runs] == \
        [f"desktop-base.sh + {steps} + desktop-start.sh"] * 2
    desktops.start("course", template, new_passwords=True)  # the re-run that sets new ones
    desktops.run("course", "apt-get -y install emacs", sudo=True)
    desktops.run("course", "uptime")
    assert len(sent.runs) == 6 and sent.runs[-1].inputs["command"] == "apt-get -y install emacs"

    passwords = desktops.passwords("course")
    secrets = [c for e in passwords.entries.values() for c in e.credentials.values()]
    assert len(secrets) == 2 * len(kind.split(",")) == len(set(secrets))
    assert all(len(c) == (8 if k == "novnc" else 20)
               for e in passwords.entries.values() for k, c in e.credentials.items())
    check_scripts(sent, secrets, tmp_path)


def recording_master(port: int) -> tuple[Sent, Any]:
    """A master node for plugins whose scripts and command lines are recorded (and rendered
    as a desktop answering on PORT would run them)."""
    from sclust.plugins.base import CommandResult, NodeSSH, PluginNode

    sent = Sent()

    def script_runner(run: ScriptRun) -> CommandResult:
        result = sent.script(run, port, "sgeadmin")
        return CommandResult(result.status, result.stdout, result.stderr)

    def runner(command: str, stdin: str | None) -> CommandResult:
        sent.command_lines.append(command)
        return CommandResult(0, "", "")

    return sent, PluginNode("master", "i-1", "10.0.0.5", "198.51.100.7", "t3.medium",
                            "master", NodeSSH("master", runner, script_runner))


def test_the_novnc_plugin_sends_clean_scripts_without_its_password(tmp_path: Path) -> None:
    from sclust.plugins.novnc import NoVNC

    sent, master = recording_master(8443)
    for plugin in (NoVNC(port=8443), NoVNC(port=8443, password="Pl8gin99")):
        plugin.run([master], master, "sgeadmin", "bash", [])
    reported = [line for line in plugin.reports if "password" in line]
    assert reported and "https://198.51.100.7:8443/vnc.html password Pl8gin99" in reported[0]
    assert [r.describe() for r in sent.runs] == [
        "novnc-kept-password.sh",
        "novnc-keep-password.sh + desktop-base.sh + novnc.sh + desktop-start.sh",
        "novnc-keep-password.sh + desktop-base.sh + novnc.sh + desktop-start.sh"]
    generated = sent.runs[1].inputs["password"]
    assert sent.runs[2].inputs["password"] == "Pl8gin99" and len(generated) == 8
    check_scripts(sent, ["Pl8gin99", generated], tmp_path)


def test_the_jupyter_plugin_sends_clean_scripts_without_its_token(tmp_path: Path) -> None:
    from sclust.plugins.jupyter import JupyterLab

    sent, master = recording_master(8888)
    for plugin in (JupyterLab(), JupyterLab(token="Tok3nOfTheMaster42")):
        plugin.run([master], master, "sgeadmin", "bash", [])
    assert "https://198.51.100.7:8888/lab token Tok3nOfTheMaster42 (as sgeadmin)" in \
        plugin.reports[0]
    assert [r.describe() for r in sent.runs] == [
        "jupyter-kept-token.sh",
        "jupyter-keep-token.sh + desktop-base.sh + jupyter.sh + desktop-start.sh",
        "jupyter-keep-token.sh + desktop-base.sh + jupyter.sh + desktop-start.sh"]
    generated = sent.runs[1].inputs["token"]
    assert sent.runs[1].inputs["jupyter_token"] == generated and len(generated) == 20
    check_scripts(sent, ["Tok3nOfTheMaster42", generated], tmp_path)
    with pytest.raises(ValueError, match="TOKEN"):
        JupyterLab(token="short")
    with pytest.raises(ValueError, match="PORT"):
        JupyterLab(port=22)
