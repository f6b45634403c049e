"""Showing clusters to people (a table) and to programs (JSON)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sclust.state import ClusterInfo, Node


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


def cluster_json(info: ClusterInfo) -> dict[str, Any]:
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
        "nodes": [node_json(n) for n in ([master] if master else []) + info.workers],
    }


def print_cluster(info: ClusterInfo) -> None:
    from rich.console import Console
    from rich.table import Table

    data = cluster_json(info)
    title = (f"{info.tag} — {data['state']} · template {data['template'] or '?'} · "
             f"zone {data['zone'] or '?'} · key {data['keyname'] or '?'}")
    if data["volumes"]:
        title += " · volumes " + ", ".join(data["volumes"])
    table = Table(title=title, title_justify="left")
    for column in ("node", "state", "instance", "type", "public ip", "private ip", "uptime"):
        table.add_column(column)
    nodes = ([info.master] if info.master else []) + info.workers
    for node in nodes:
        kind = node.instance_type + (" (spot)" if node.spot else "")
        table.add_row(node.alias, node.state, node.instance_id, kind, node.public_ip or "-",
                      node.private_ip or "-", uptime(node))
    table.caption = f"{len(nodes)} node(s)"
    Console(width=120).print(table)
