"""`sclust vnc TAG`: the click command (thin: find the cluster, open the tunnel, wait)."""

from __future__ import annotations

import sys

import click

from sclust.context import CLUSTER_TAG


@click.command("vnc")
@click.argument("tag", type=CLUSTER_TAG)
@click.option("-p", "--local-port", type=click.IntRange(1, 65535), default=None,
              help="Local port of the tunnel (default 6080, or the next free one).")
@click.option("-u", "--user", help="Log in as USER (default: root where the image allows it, "
              "as for sshmaster; else the image's login user).")
@click.pass_context
def vnc(ctx: click.Context, tag: str, local_port: int | None, user: str | None) -> None:
    """Open the master's noVNC desktop through an SSH tunnel and print a localhost URL.

    Works with no public port open (only SSH). Needs the novnc plugin on the cluster.
    Runs until Ctrl-C.
    """
    from sclust.desktops.tunnel import open_tunnel, run_until_interrupted
    from sclust.remote import Remote

    app = ctx.obj
    remote = Remote.for_cluster(app.config, app.manager(), tag, user)
    tunnel = open_tunnel(remote, local_port)
    sys.exit(run_until_interrupted(tunnel, lambda line: click.echo(line)))
