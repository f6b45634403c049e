"""`sclust local …`: run the local cloud (an EC2 endpoint whose instances are real hosts)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

STATE_DIR_HELP = "State directory (default: $SCLUST_LOCAL_DIR, else ~/.sclust/local)."


@click.group("local")
def local() -> None:
    """The local cloud: EC2 on this machine, instances are real hosts you can SSH to.

    Needs Linux and root. Point any boto3 client at it with AWS_ENDPOINT_URL=<endpoint>
    (see `sclust local status`), or set `CLOUD = local` in the [global] section of the config.
    """


@local.command()
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_DIR_HELP)
def up(state_dir: Path | None) -> None:
    """Start the local cloud (does nothing if it already runs)."""
    from sclust.localcloud.control import up as start

    endpoint = start(state_dir)
    click.echo(f"local cloud running: {endpoint.url} (region {endpoint.region})")
    _echo_exports(endpoint.url, endpoint.access_key, endpoint.secret_key, endpoint.region)


def _echo_exports(url: str, access_key: str, secret_key: str, region: str) -> None:
    """The lines that point any AWS client at the local cloud (its credentials included:
    requests without its signature are refused)."""
    click.echo(f"export AWS_ENDPOINT_URL={url}")
    click.echo(f"export AWS_ACCESS_KEY_ID={access_key}")
    click.echo(f"export AWS_SECRET_ACCESS_KEY={secret_key}")
    click.echo(f"export AWS_DEFAULT_REGION={region}")


@local.command(short_help="Stop the local cloud and remove everything it made.")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_DIR_HELP)
def down(state_dir: Path | None) -> None:
    """Stop the local cloud and remove every host, volume, address and process it made."""
    from sclust.localcloud.control import down as stop
    from sclust.localcloud.errors import LocalCloudError

    left = stop(state_dir)
    if left:
        raise LocalCloudError("local cloud stopped, but these remain: " + ", ".join(left))
    click.echo("local cloud stopped; nothing is left "
               "(namespaces, links, mounts, loop devices, processes)")


@local.command(short_help="Show the endpoint and the hosts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: endpoint, region, hosts.")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_DIR_HELP)
def status(as_json: bool, state_dir: Path | None) -> None:
    """Show the endpoint URL and the hosts (instance, private and public address, state)."""
    from sclust.localcloud.control import status as read_status

    info = read_status(state_dir)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    if not info["running"]:
        click.echo("local cloud is not running (start it: sclust local up)")
        return
    click.echo(f"endpoint {info['endpoint']}  region {info['region']}  state {info['state_dir']}")
    _echo_exports(info["endpoint"], info["access_key"], info["secret_key"], info["region"])
    hosts = info["hosts"]
    if not hosts:
        click.echo("no hosts")
        return
    click.echo(f"{'INSTANCE':<21} {'STATE':<14} {'PRIVATE':<15} {'PUBLIC':<15}")
    for host in hosts:
        click.echo(f"{host['instance_id']:<21} {host['state']:<14} {host['private_ip']:<15} "
                   f"{host['public_ip'] or '-':<15}")


@local.command("set", short_help="Show or change how hard the running local cloud is.")
@click.option("--validation/--no-validation", default=None,
              help="Refuse key pairs, AMIs, types, subnets, volume zones that do not exist.")
@click.option("--consistency-delay", type=click.FloatRange(0, 600), default=None,
              metavar="SECONDS", help="How long new instances stay invisible to describes.")
@click.option("--clock-offset", type=click.FloatRange(-366 * 86400, 366 * 86400), default=None,
              metavar="SECONDS", help="Move the scheduler's clock (EventBridge Scheduler "
              "schedules run at machine time + SECONDS): to test a calendar now.")
@click.option("--iam-enforcement/--no-iam-enforcement", default=None,
              help="Allow or refuse requests signed by IAM users and role sessions by their "
              "policies (the local cloud's own credentials may always do everything).")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_DIR_HELP)
def set_(validation: bool | None, consistency_delay: float | None, clock_offset: float | None,
         iam_enforcement: bool | None, state_dir: Path | None) -> None:
    """Show (no option) or change the running cloud's AWS-like strictness; `up` reads the
    same from SCLUST_LOCAL_VALIDATION, SCLUST_LOCAL_CONSISTENCY_DELAY and
    SCLUST_LOCAL_IAM_ENFORCEMENT."""
    from sclust.localcloud.control import configure

    changes: dict[str, object] = {}
    if iam_enforcement is not None:
        changes["iam_enforcement"] = iam_enforcement
    if validation is not None:
        changes["validation"] = validation
    if consistency_delay is not None:
        changes["consistency_delay"] = consistency_delay
    if clock_offset is not None:
        changes["clock_offset"] = clock_offset
    settings = configure(state_dir, **changes)
    click.echo(f"validation {'on' if settings['validation'] else 'off'}, "
               f"consistency delay {settings['consistency_delay']:g} s, "
               f"scheduler clock offset {settings.get('clock_offset', 0):g} s, "
               f"IAM enforcement {'on' if settings.get('iam_enforcement') else 'off'}")


@local.group()
def inject() -> None:
    """Make the running local cloud fail the way AWS does (signed with its credentials).

    Each fault lasts for --times matching requests or instances and/or --for SECONDS, or until
    `sclust local inject clear`."""


def _fault_options(function: Callable[..., None]) -> Callable[..., None]:
    function = click.option("--state-dir", type=click.Path(path_type=Path), default=None,
                            help=STATE_DIR_HELP)(function)
    function = click.option("--for", "for_", type=click.FloatRange(min=0, min_open=True),
                            default=None, metavar="SECONDS",
                            help="Disarm after SECONDS.")(function)
    function = click.option("--times", type=click.IntRange(min=1), default=None,
                            help="Disarm after hitting N requests or instances.")(function)
    return function


def _arm(state_dir: Path | None, spec: dict[str, object]) -> None:
    from sclust.localcloud.control import inject as arm

    fault = arm({k: v for k, v in spec.items() if v is not None}, state_dir)
    details = ", ".join(f"{k}={v}" for k, v in fault.items() if k not in ("id", "kind", "hits"))
    click.echo(f"fault {fault['id']} armed: {fault['kind']}" + (f" ({details})" if details else ""))


@inject.command()
@click.option("--type", "instance_type", default=None, help="Instance type (default: every type).")
@click.option("--zone", default=None, help="Availability zone (default: every zone).")
@_fault_options
def capacity(instance_type: str | None, zone: str | None, times: int | None,
             for_: float | None, state_dir: Path | None) -> None:
    """RunInstances fails with InsufficientInstanceCapacity (HTTP 500)."""
    _arm(state_dir, {"kind": "capacity", "instance_type": instance_type, "zone": zone,
                     "times": times, "for": for_})


@inject.command()
@click.option("--action", default=None, help="EC2 action, e.g. DescribeInstances (default: all).")
@_fault_options
def throttle(action: str | None, times: int | None, for_: float | None,
             state_dir: Path | None) -> None:
    """Requests fail with RequestLimitExceeded (HTTP 503; SDKs back off and retry)."""
    _arm(state_dir, {"kind": "throttle", "action": action, "times": times, "for": for_})


@inject.command("instance-limit")
@click.option("--max", "limit", type=click.IntRange(min=0), required=True,
              help="Live instances allowed.")
@_fault_options
def instance_limit(limit: int, times: int | None, for_: float | None,
                   state_dir: Path | None) -> None:
    """RunInstances beyond MAX live instances fails with InstanceLimitExceeded."""
    _arm(state_dir, {"kind": "instance-limit", "limit": limit, "times": times, "for": for_})


@inject.command("no-ssh")
@_fault_options
def no_ssh(times: int | None, for_: float | None, state_dir: Path | None) -> None:
    """The next instance(s) launched never answer SSH (default: the next one)."""
    _arm(state_dir, {"kind": "no-ssh", "times": times, "for": for_})


@inject.command("slow-boot")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True, max=3600), required=True,
              help="How long after `running` sshd starts.")
@_fault_options
def slow_boot(seconds: float, times: int | None, for_: float | None,
              state_dir: Path | None) -> None:
    """The next instance(s) launched start sshd SECONDS late (default: the next one)."""
    _arm(state_dir, {"kind": "slow-boot", "seconds": seconds, "times": times, "for": for_})


@inject.command("spot-interruption")
@click.argument("instance_id")
@click.option("--action", type=click.Choice(["terminate", "stop"]), default="terminate",
              show_default=True, help="What happens when the notice runs out.")
@click.option("--notice", type=click.FloatRange(0, 3600), default=120.0, show_default=True,
              metavar="SECONDS", help="Time between the notice and the action.")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_DIR_HELP)
def spot_interruption(instance_id: str, action: str, notice: float,
                      state_dir: Path | None) -> None:
    """Interrupt spot instance INSTANCE_ID: the notice appears in its metadata
    (spot/instance-action), then it is stopped or terminated."""
    _arm(state_dir, {"kind": "spot-interruption", "instance": instance_id, "action": action,
                     "notice": notice})


@inject.command("list")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_DIR_HELP)
def list_(state_dir: Path | None) -> None:
    """The armed faults."""
    from sclust.localcloud.control import faults

    armed = faults(state_dir)
    if not armed:
        click.echo("no faults armed")
    for fault in armed:
        click.echo(json.dumps(fault))


@inject.command()
@click.argument("fault_id", type=int, required=False)
@click.option("--state-dir", type=click.Path(path_type=Path), default=None, help=STATE_DIR_HELP)
def clear(fault_id: int | None, state_dir: Path | None) -> None:
    """Disarm fault FAULT_ID (default: every fault)."""
    from sclust.localcloud.control import clear_faults

    click.echo(f"{clear_faults(state_dir, fault_id)} fault(s) disarmed")
