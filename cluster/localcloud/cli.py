"""`sclust local …`: run the local cloud (an EC2 endpoint whose instances are real hosts)."""

from __future__ import annotations

import json
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
    click.echo(f"  export AWS_ENDPOINT_URL={endpoint.url} AWS_ACCESS_KEY_ID={endpoint.access_key} "
               f"AWS_SECRET_ACCESS_KEY={endpoint.secret_key} AWS_DEFAULT_REGION={endpoint.region}")


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
    hosts = info["hosts"]
    if not hosts:
        click.echo("no hosts")
        return
    click.echo(f"{'INSTANCE':<21} {'STATE':<14} {'PRIVATE':<15} {'PUBLIC':<15}")
    for host in hosts:
        click.echo(f"{host['instance_id']:<21} {host['state']:<14} {host['private_ip']:<15} "
                   f"{host['public_ip'] or '-':<15}")
