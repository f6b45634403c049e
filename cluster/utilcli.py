"""StarCluster's utility commands that look things up: listinstances, listkeypairs, removekey,
listregions, listzones, listspots, spothistory, showconsole, sshinstance; and why s3image and
downloadimage are gone. Thin: parse, ask `CloudAdmin`, print."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from sclust.context import AppContext, confirm, pass_app
from sclust.errors import SclustError

if TYPE_CHECKING:
    from sclust.cloudadmin import CloudAdmin

JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
INSTANCE_ID = r"^i-[0-9a-zA-Z]+$"


def admin(app: AppContext) -> CloudAdmin:
    from sclust.connect import open_admin_cloud

    return open_admin_cloud(app.config, app.region)


def printable(text: str, keep: str = "") -> str:
    """TEXT with control characters (escape sequences included) shown as `?`."""
    return "".join(c if c.isprintable() or c in keep else "?" for c in text)


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    shown = Table(title=title, title_justify="left")
    for column in columns:
        shown.add_column(column)
    for row in rows:
        # Cloud strings are data: never rich markup ([link=…], a name like "[/x]") or terminal
        # control sequences.
        shown.add_row(*(Text(printable(str(cell))) for cell in row))
    shown.caption = f"{len(rows)} listed"
    Console(width=max(120, 20 * len(columns))).print(shown)


def emit(as_json: bool, data: list[dict[str, Any]], title: str, columns: list[str]) -> None:
    """DATA as JSON, or as a table of COLUMNS (keys of each dict)."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    elif not data:
        click.echo(f"{title}: none")
    else:
        table(title, columns, [[str(d.get(c) if d.get(c) is not None else "-") for c in columns]
                               for d in data])


def check_instance_id(value: str) -> str:
    import re

    if not re.match(INSTANCE_ID, value):
        raise SclustError(f"{value!r} is not an instance id (i-…)")
    return value


@click.command()
@click.option("-x", "--show-terminated", is_flag=True, help="Include terminated instances.")
@JSON
@pass_app
def listinstances(app: AppContext, show_terminated: bool, as_json: bool) -> None:
    """List every instance of the region (not only clusters'): id, state, type, AMI, zone,
    addresses, key, and the cluster and node it belongs to when sclust launched it."""
    cloud = admin(app)
    data = [{
        "instance_id": i.instance_id, "state": i.state, "type": i.instance_type,
        "image_id": i.image_id, "zone": i.zone, "public_ip": i.public_ip,
        "private_ip": i.private_ip, "key": i.key_name or None, "spot": i.spot,
        "cluster": i.tags.get("sclust:cluster"), "alias": i.tags.get("sclust:alias")
        or i.tags.get("alias"), "name": i.tags.get("Name"),
        "launch_time": i.launch_time.isoformat() if i.launch_time else None,
    } for i in cloud.list_instances(include_terminated=show_terminated)]
    emit(as_json, data, f"instances in {cloud.region}",
         ["instance_id", "state", "type", "image_id", "zone", "public_ip", "private_ip",
          "cluster", "alias"])


@click.command()
@JSON
@pass_app
def listkeypairs(app: AppContext, as_json: bool) -> None:
    """List the region's EC2 key pairs and their fingerprints."""
    cloud = admin(app)
    data = [{"name": k.name, "fingerprint": k.fingerprint, "type": k.key_type or None}
            for k in cloud.list_key_pairs()]
    emit(as_json, data, f"key pairs in {cloud.region}", ["name", "fingerprint", "type"])


@click.command()
@click.argument("name")
@click.option("-y", "--yes", "-c", "--confirm", "yes", is_flag=True,
              help="Do not ask for confirmation.")
@pass_app
def removekey(app: AppContext, name: str, yes: bool) -> None:
    """Delete EC2 key pair NAME (the private key file on this machine is left alone).

    Instances launched with it keep working, but nothing new can be launched with it."""
    cloud = admin(app)
    if name not in {k.name for k in cloud.list_key_pairs()}:
        raise SclustError(f"no key pair {name!r} in {cloud.region}")
    users = [i.instance_id for i in cloud.list_instances(include_terminated=False)
             if i.key_name == name]
    if users:
        click.echo(f"instances launched with it: {', '.join(users)}")
    confirm(f"Delete key pair {name!r} from {cloud.region}?", yes)
    cloud.delete_key_pair(name)
    click.echo(f"key pair {name!r} deleted from {cloud.region}")


@click.command()
@JSON
@pass_app
def listregions(app: AppContext, as_json: bool) -> None:
    """List the EC2 regions this account can use (choose one with -r or AWS_REGION_NAME)."""
    cloud = admin(app)
    data = [{"region": name, "endpoint": endpoint} for name, endpoint in cloud.list_regions()]
    emit(as_json, data, "regions", ["region", "endpoint"])


@click.command()
@JSON
@pass_app
def listzones(app: AppContext, as_json: bool) -> None:
    """List the availability zones of the region (AVAILABILITY_ZONE, createvolume's ZONE)."""
    cloud = admin(app)
    data = [{"zone": z.name, "state": z.state, "region": z.region} for z in cloud.list_zones()]
    emit(as_json, data, f"zones of {cloud.region}", ["zone", "state", "region"])


@click.command()
@click.option("-c", "--show-closed", is_flag=True,
              help="Include closed, cancelled and failed requests.")
@JSON
@pass_app
def listspots(app: AppContext, show_closed: bool, as_json: bool) -> None:
    """List spot instance requests (open and active ones unless -c)."""
    cloud = admin(app)
    requests = [r for r in cloud.list_spot_requests()
                if show_closed or r.state in ("open", "active")]
    data = [{"request_id": r.request_id, "state": r.state, "price": r.price,
             "type": r.instance_type, "instance_id": r.instance_id, "zone": r.zone,
             "created": r.created.isoformat() if r.created else None} for r in requests]
    emit(as_json, data, f"spot requests in {cloud.region}",
         ["request_id", "state", "price", "type", "instance_id", "zone", "created"])


@click.command()
@click.argument("instance_type")
@click.option("-d", "--days", type=click.IntRange(1, 90), default=30, show_default=True,
              help="How many days back.")
@click.option("-z", "--zone", help="Only this availability zone.")
@click.option("--product", default="Linux/UNIX", show_default=True,
              help="Product description (e.g. 'Linux/UNIX (Amazon VPC)', 'Windows').")
@click.option("-p", "--plot", is_flag=True, help="Draw the prices as a text plot.")
@JSON
@pass_app
def spothistory(app: AppContext, instance_type: str, days: int, zone: str | None,
                product: str, plot: bool, as_json: bool) -> None:
    """Spot price history of INSTANCE_TYPE: current, average and maximum price per zone.

    -p draws the history in the terminal (works over SSH and in logs; StarCluster opened a
    web page instead)."""
    from sclust.spotplot import price_plot, summary
    from sclust.values import as_instance_type

    try:
        as_instance_type(instance_type)
    except ValueError as error:
        raise SclustError(f"INSTANCE_TYPE: {error}") from None
    cloud = admin(app)
    prices = cloud.spot_price_history(instance_type, days, zone, product)
    if as_json:
        click.echo(json.dumps([{"timestamp": p.timestamp.isoformat(), "zone": p.zone,
                                "price": p.price} for p in prices], indent=2))
        return
    if not prices:
        click.echo(f"no spot prices for {instance_type} ({product}) in {cloud.region} "
                   f"over {days} days")
        return
    for line in summary(prices):
        click.echo(line)
    if plot:
        click.echo(price_plot(prices, f"{instance_type} spot price, $/hour"))


@click.command()
@click.argument("instance_id")
@pass_app
def showconsole(app: AppContext, instance_id: str) -> None:
    """Print the console output (boot log) of INSTANCE_ID, as EC2 keeps it."""
    check_instance_id(instance_id)
    output = admin(app).console_output(instance_id)
    # The instance wrote it: no terminal control sequences (lines and tabs stay).
    click.echo(printable(output, keep="\n\t") if output.strip()
               else f"{instance_id}: no console output yet")


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("instance_id")
@click.argument("command", nargs=-1)
@click.option("-u", "--user", help="Log in as USER (default: root where the image allows it, "
              "else the image's login user).")
@click.option("-X", "forward_x11", is_flag=True, help="Forward X11 (ssh -X).")
@click.option("-A", "forward_agent", is_flag=True, help="Forward the SSH agent (ssh -A).")
@click.option("-t", "tty", is_flag=True, help="Force a terminal (ssh -t).")
@pass_app
def sshinstance(app: AppContext, instance_id: str, command: tuple[str, ...],
                user: str | None, forward_x11: bool, forward_agent: bool, tty: bool) -> None:
    """SSH to any instance by id, with the private key of the [key] section named like the
    instance's key pair."""
    from sclust.remote import instance_remote

    check_instance_id(instance_id)
    cloud = admin(app)
    found = cloud.describe_instances([instance_id])
    if not found:
        raise SclustError(f"no instance {instance_id} in {cloud.region}")
    remote = instance_remote(app.config, cloud.region, found[0], user)
    sys.exit(remote.ssh(instance_id, list(command), forward_x11, forward_agent, tty))


GONE = {
    "s3image": "S3-backed (instance-store) AMIs are obsolete: EC2 retired most instance-store"
               " types and every current instance boots from EBS; use `sclust ebsimage "
               "INSTANCE NAME` (StarCluster's own advice since 0.95)",
    "downloadimage": "it downloaded the parts of an S3-backed AMI, which s3image made; EBS "
                     "images live as snapshots: copy one with `aws ec2 copy-image` or export "
                     "it with `aws ec2 export-image`",
}


def gone_command(name: str) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True},
                   help=f"Gone: {GONE[name]}.")
    @click.argument("args", nargs=-1)
    def command(args: tuple[str, ...]) -> None:
        raise SclustError(f"{name} is gone: {GONE[name]}")

    return command


COMMANDS = [listinstances, listkeypairs, removekey, listregions, listzones, listspots,
            spothistory, showconsole, sshinstance, *(gone_command(n) for n in GONE)]
