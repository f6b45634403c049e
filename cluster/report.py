"""Showing clusters to people (a table) and to programs (JSON)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sclust.state import ClusterInfo, Node

if TYPE_CHECKING:
    from sclust.cluster import ClusterManager
    from sclust.clustercost import ClusterSpend


def uptime(node: Node) -> str:
    if node.launch_time is None or node.state != "running":
        return "-"
    seconds = int((datetime.now(timezone.utc) - node.launch_time).total_seconds())
    days, rest = divmod(max(seconds, 0), 86400)
    return f"{days}d {rest // 3600:02d}:{rest % 3600 // 60:02d}"


def node_json(node: Node) -> dict[str, Any]:
    return {
        "alias": node.alias, "role": node.role, "instance_id": node.instance_id,
        "state": node.state, "instance_type": node.instance_type, "image_id": node.image_id,
        "zone": node.zone, "private_ip": node.private_ip, "public_ip": node.public_ip,
        "spot": node.spot,
        "launch_time": node.launch_time.isoformat() if node.launch_time else None,
    }


def cluster_json(info: ClusterInfo, ssh: dict[str, str] | None = None) -> dict[str, Any]:
    settings = info.settings
    master = info.master
    return {
        "tag": info.tag,
        "state": info.state,
        "template": settings.template if settings else None,
        "zone": settings.zone if settings else None,
        "subnet_id": settings.subnet_id if settings else None,
        "keyname": settings.keyname if settings else None,
        "size": len(info.nodes),
        "security_group_id": info.security_group_id,
        "master": master.address if master else None,
        "volumes": [v["volume_id"] for v in settings.volumes] if settings else [],
        "nodes": [{**node_json(n), **({"ssh": ssh.get(n.alias, "-")} if ssh is not None
                                      else {})}
                  for n in ([master] if master else []) + info.workers],
    }


def print_cluster(info: ClusterInfo, spend: ClusterSpend | None = None,
                  ssh: dict[str, str] | None = None) -> None:
    """A table of the cluster's nodes; with SSH (listclusters -s) a column of SSH status; an
    image column when the nodes were launched from different AMIs (addnode -i); the spend so
    far and its projection in the caption."""
    from rich.console import Console
    from rich.table import Table

    data = cluster_json(info)
    title = (f"{info.tag} — {data['state']} · template {data['template'] or '?'} · "
             f"zone {data['zone'] or '?'} · key {data['keyname'] or '?'}")
    if data["volumes"]:
        title += " · volumes " + ", ".join(data["volumes"])
    table = Table(title=title, title_justify="left")
    nodes = ([info.master] if info.master else []) + info.workers
    images = len({n.image_id for n in nodes}) > 1
    columns = ["node", "state", "instance", "type", *(["image"] if images else []),
               "public ip", "private ip", "uptime", *(["ssh"] if ssh is not None else [])]
    for column in columns:
        table.add_column(column)
    for node in nodes:
        kind = node.instance_type + (" (spot)" if node.spot else "")
        row = [node.alias, node.state, node.instance_id, kind,
               *([node.image_id] if images else []), node.public_ip or "-",
               node.private_ip or "-", uptime(node)]
        table.add_row(*row, *([ssh.get(node.alias, "-")] if ssh is not None else []))
    table.caption = f"{len(nodes)} node(s)"
    if spend is not None:
        table.caption += (f"; spent ≈ ${spend.spent:,.2f}, projected ${spend.projected:,.2f} "
                          f"by {spend.horizon.astimezone():%Y-%m-%d %H:%M}")
        if spend.budget is not None:
            table.caption += f" (budget ${spend.budget:,.2f})"
        if spend.unpriced:
            table.caption += f"; no price for {', '.join(spend.unpriced)}"
    Console(width=120).print(table)


# A request cut off by an interruption may still be carried out: look again after this.
IN_FLIGHT_GRACE = 1.5


def aftermath(manager: ClusterManager) -> list[str]:
    """After a start (or start -x) failed or was interrupted: what of its cluster exists now,
    looked up again, and the one command to resume or remove it. Empty when the manager did
    not begin to create anything. Never raises: a lookup that fails says how to look."""
    import time

    tag = manager.changing
    if tag is None:
        return []
    record = manager.record
    try:
        if record.in_flight:
            time.sleep(IN_FLIGHT_GRACE)
        found = manager.list_clusters(tag)
        info = found[0] if found else ClusterInfo(tag, None, None)
        listed = {n.instance_id for n in info.nodes}
        # Launched but not yet found by tag (EC2 is eventually consistent): still there.
        unlisted = [i for i in manager.cloud.describe_instances(
            [i for i in dict.fromkeys(record.launched) if i not in listed])
            if i.state != "terminated"]
    except (Exception, KeyboardInterrupt) as error:
        return [f"could not look up what exists of cluster {tag!r} ({type(error).__name__}): "
                f"`sclust listclusters {tag}` shows it; `sclust terminate {tag}` removes it"]
    return leftovers(info, [f"{i.instance_id} ({i.state})" for i in unlisted],
                     manager.cloud.region, record.in_flight)


def leftovers(info: ClusterInfo, unlisted: list[str], region: str,
              in_flight: str | None = None) -> list[str]:
    """What exists of INFO's cluster, and what to run about it (see `aftermath`). IN_FLIGHT:
    what EC2 was being asked to create when the operation was cut off."""
    tag = info.tag
    cut_off = (f"the request creating {in_flight} was cut off: if `sclust listclusters {tag}` "
               f"shows more later, `sclust terminate {tag}` removes that too") if in_flight else ""
    if info.security_group_id is None and not info.nodes and not unlisted:
        return [f"nothing of cluster {tag!r} exists in {region}" + (f"; {cut_off}" if cut_off
                                                                     else "")]
    group = (f"security group {info.security_group_id} (@sclust-{tag})"
             if info.security_group_id else "no security group")
    nodes = ([info.master] if info.master else []) + info.workers
    instances = [f"{n.alias} {n.instance_id} ({n.state})" for n in nodes] + [
        f"{i} (not yet listed under its tags)" for i in unlisted]
    lines = [f"cluster {tag!r} now has: {group}; "
             + (f"{len(instances)} instance(s): {', '.join(instances)}" if instances
                else "no instances")]
    if info.settings is None:
        lines.append(f"it has no settings to resume from: remove it with "
                     f"`sclust terminate {tag}`")
    else:
        lines.append(f"resume it with `sclust start -x {tag}`, or remove it with "
                     f"`sclust terminate {tag}`")
    return lines + ([cut_off] if cut_off else [])
