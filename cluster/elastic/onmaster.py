"""The balancer as a service on the master (`sclust loadbalance TAG --on-master`).

The operator's machine may sleep or go away; the master does not. `install` ships the very
sclust the operator runs (a wheel built from the install, `wheel.py`), the cluster's SSH key
and a config without credentials (the service uses boto3's default chain: on EC2, the
master's instance role; `balancer_policy.py` prints the least-privilege policy for it), then
starts the service (`scripts/balancer-install.sh`: systemd where there is one, else a
supervisor started from /etc/rc.local at every boot). `control` reads its state and log, or
stops it; `sclust stop` and `terminate` stop it first, so it launches nothing meanwhile.
"""

from __future__ import annotations

import base64
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sclust.errors import SclustError
from sclust.scripts import ScriptFile, ScriptRun

if TYPE_CHECKING:
    from sclust.cluster import ClusterManager
    from sclust.schema import ClusterOptions
    from sclust.state import ClusterInfo

LOG = "/var/log/sclust-balancer.log"
# On the master instance once the service is installed: `stop` and `terminate` then stop it
# (and only then SSH to the master for it).
TAG_BALANCER = "sclust:balancer"
_WHEEL_NAME = re.compile(r"^[A-Za-z0-9_.+-]+\.whl$")
_REGION = re.compile(r"^[a-z0-9-]{1,40}$")


def step(name: str) -> ScriptFile:
    return ScriptFile("sclust.elastic", f"scripts/{name}.sh")


def master_config(keyname: str, region: str | None) -> str:
    """The master's sclust config: the key's place and the region, no credentials (the
    default chain finds the instance role) and no endpoint (/etc/environment may name one)."""
    if not re.fullmatch(r"[A-Za-z0-9 ._:/()#,@\[\]+=&;{}!$*-]{1,255}", keyname):
        raise SclustError(f"key pair name {keyname!r} cannot be written into a config")
    lines = ["[global]", "CLOUD = aws", ""]
    if region:
        if not _REGION.match(region):
            raise SclustError(f"region {region!r} is not a region name")
        lines += ["[aws info]", f"AWS_REGION_NAME = {region}", ""]
    lines += [f"[key {keyname}]", "KEY_LOCATION = /etc/sclust-balancer/key.pem", ""]
    return "\n".join(lines)


def install_run(wheel: Path, config: str, key: str, args: list[str],
                dependencies: bytes = b"") -> ScriptRun:
    """DEPENDENCIES: a tar of wheels for the master (wheelhouse_archive), or empty."""
    if not _WHEEL_NAME.match(wheel.name):
        raise SclustError(f"unexpected wheel name {wheel.name!r}")
    return ScriptRun().add(step("balancer-common")).add(
        step("balancer-install"), balancer_wheel=base64.b64encode(wheel.read_bytes()).decode(),
        balancer_wheel_name=wheel.name, balancer_config=config, balancer_key=key,
        balancer_args=list(args),
        balancer_deps=base64.b64encode(dependencies).decode() if dependencies else None)


def control_run(action: str, lines: int = 200) -> ScriptRun:
    if action not in ("status", "logs", "stop"):
        raise ValueError(action)
    return ScriptRun().add(step("balancer-common")).add(
        step("balancer-control"), balancer_action=action, balancer_lines=lines)


@dataclass
class ServiceState:
    """What `balancer-control.sh` said."""

    state: str  # running, stopped, absent
    version: str = ""
    args: str = ""
    last: str = ""
    log: str = ""


def parse_control(output: str) -> ServiceState:
    state = ServiceState("unknown")
    log: list[str] = []
    for line in output.splitlines():
        key, _, value = line.partition(" ")
        if key == "balancer-state":
            state.state = value.strip()
        elif key == "balancer-version":
            state.version = value.strip()
        elif key == "balancer-args":
            state.args = value.strip()
        elif key == "balancer-last":
            state.last = value.strip()
        else:
            log.append(line)
    state.log = "\n".join(log)
    return state


def service_args(tag: str, interval: float, max_nodes: int, min_nodes: int, max_wait: float,
                 add_per_iteration: int | None, stabilization: float,
                 idle_timeout: float | None, wait_target: float | None, billing: str,
                 join_grace: float, answer_grace: float, no_reconcile: bool) -> list[str]:
    """`loadbalance`'s arguments for the master's service (values, one argv item each)."""
    args = [tag, "-i", f"{interval:g}", "-m", str(max_nodes), "-n", str(min_nodes),
            "-w", f"{max_wait:g}", "-s", f"{stabilization:g}", "--billing", billing,
            "--join-grace", f"{join_grace:g}", "--answer-grace", f"{answer_grace:g}"]
    if add_per_iteration is not None:
        args += ["-a", str(add_per_iteration)]
    if idle_timeout is not None:
        args += ["--idle-timeout", f"{idle_timeout:g}"]
    if wait_target is not None:
        args += ["--wait-target", f"{wait_target:g}"]
    if no_reconcile:
        args.append("--no-reconcile")
    return args


def template_args(tag: str, settings: ClusterOptions) -> list[str]:
    """The service's `loadbalance` arguments from the template's LOADBALANCE_* keys."""
    return service_args(
        tag, float(settings.loadbalance_interval),
        settings.loadbalance_max_nodes or settings.cluster_size, settings.loadbalance_min_nodes,
        0.0, None, 0.0,
        None if settings.loadbalance_idle_timeout is None
        else float(settings.loadbalance_idle_timeout),
        None if settings.loadbalance_wait_target is None
        else float(settings.loadbalance_wait_target),
        "second", 600.0, 120.0, False)


def running_master(manager: ClusterManager, tag: str) -> ClusterInfo:
    info = manager.get(tag)
    if info.master is None or info.master.state != "running":
        raise SclustError(f"cluster {tag!r} has no running master")
    return info


def install(manager: ClusterManager, tag: str, args: list[str], region: str | None) -> str:
    """Install and (re)start the balancer on TAG's master with loadbalance ARGS; returns
    the name of the wheel shipped."""
    from sclust.elastic.wheel import build_wheel

    info = running_master(manager, tag)
    settings = manager.require_settings(info)
    if manager.key_file is None:
        raise SclustError("no key file for the cluster's key pair")
    key_path = manager.key_file(settings.keyname)
    try:
        key = key_path.read_text()
    except OSError as error:
        raise SclustError(f"cannot read the cluster's key {key_path}: {error}") from None
    config = master_config(settings.keyname, region)
    configurator = manager.configurator(info)
    assert info.master is not None
    try:
        with tempfile.TemporaryDirectory() as scratch:
            wheel = build_wheel(Path(scratch))
            connection = configurator.connection(info.master)
            run = install_run(wheel, config, key, args, master_dependencies(connection))
            result = connection.run_script(run, timeout=900, check=False)
    finally:
        configurator.close()
    if result.status != 0 or "balancer-installed" not in result.stdout:
        raise SclustError(f"installing the balancer on the master failed: "
                          f"{(result.stderr or result.stdout).strip()[-800:]}")
    manager.cloud.create_tags([info.master.instance_id], {TAG_BALANCER: "on-master"})
    return wheel.name


def master_dependencies(connection: Any) -> bytes:
    """sclust's dependencies as wheels for the master's Python (a tar), from the operator's
    pip and cached in SCLUST_HOME; empty if the master's Python is not one pip can target or
    the wheels cannot be fetched here (the master's index is used then)."""
    from sclust.elastic.wheel import Target, dependency_wheels, wheelhouse_archive
    from sclust.paths import sclust_home

    probe = connection.run(Target.PROBE, timeout=60, check=False)
    target = Target.parse(probe.stdout) if probe.status == 0 else None
    if target is None:
        return b""
    wheels = dependency_wheels(target, sclust_home() / "wheelhouse")
    return wheelhouse_archive(wheels) if wheels else b""


def control(manager: ClusterManager, tag: str, action: str, lines: int = 200,
            info: ClusterInfo | None = None) -> ServiceState:
    """Run ACTION (status, logs, stop) on the master's balancer service."""
    info = info or running_master(manager, tag)
    assert info.master is not None
    configurator = manager.configurator(info)
    try:
        result = configurator.connection(info.master).run_script(
            control_run(action, lines), timeout=660, check=False)
    finally:
        configurator.close()
    if result.status != 0:
        raise SclustError(f"the balancer service on the master: {action} failed: "
                          f"{(result.stderr or result.stdout).strip()[-400:]}")
    return parse_control(result.stdout)


def stop_before(manager: ClusterManager, tag: str) -> str | None:
    """For `sclust stop`/`terminate`: stop the master's balancer (so it launches nothing
    meanwhile); a master that is not running runs no balancer. Returns what was done."""
    info = manager.get(tag)
    if info.master is None or info.master.state != "running":
        return None
    try:
        [master] = manager.cloud.describe_instances([info.master.instance_id])
        if TAG_BALANCER not in master.tags:
            return None  # never installed: no SSH to the master for it
        state = control(manager, tag, "stop", info=info)
    except Exception as error:  # never a reason not to stop or terminate
        return f"could not stop the balancer on the master: {error}"
    return None if state.state == "absent" else "stopped the balancer on the master"
