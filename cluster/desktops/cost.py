"""What a course or a cluster costs: a dated price table and the Scipion guide's arithmetic.

    instance   = running hours × $/hour
    root disk  = GiB × $/GB-month × (days × 24 / 720)   (EBS is billed while it exists)
    Elastic IP = days × 24 × $/hour                      (since 2024 attached or idle alike)

The table ships in cluster/data/prices.json (us-east-1 on-demand, with its date); a config's
`[prices]` section replaces it (FILE = table.json) or overrides single prices
(`g4dn.xlarge = 0.55`, `EBS_GB_MONTH = 0.088`, `EIP_HOUR = 0.005`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sclust.config import ClusterTemplate, Config, located
from sclust.errors import ConfigError, SclustError
from sclust.schema import PRICES_KEYS
from sclust.values import as_instance_type, as_price

SHIPPED_TABLE = Path(__file__).resolve().parent.parent / "data" / "prices.json"
HOURS_PER_MONTH = 720  # EBS GB-months are prorated over 30-day months, as in AWS's examples


@dataclass
class PriceTable:
    date: str
    region: str
    source: str
    instance_hour: dict[str, float]
    ebs_gb_month: float
    eip_hour: float
    default_root_gb: int = 8
    overridden: list[str] = field(default_factory=list)

    def hourly(self, instance_type: str) -> float:
        price = self.instance_hour.get(instance_type)
        if price is None:
            raise SclustError(
                f"no price for {instance_type} in the price table ({self.region}, {self.date}):"
                f" add `{instance_type} = DOLLARS_PER_HOUR` to the config's [prices] section"
            )
        return price

    @property
    def label(self) -> str:
        extra = f"; overridden: {', '.join(self.overridden)}" if self.overridden else ""
        return f"prices: {self.region} on-demand, {self.date}{extra}"


def table_from_json(path: Path) -> PriceTable:
    try:
        data = json.loads(path.read_text())
        ebs = data["ebs_gb_month"]
        return PriceTable(
            date=str(data.get("date", "undated")), region=str(data.get("region", "?")),
            source=str(data.get("source", str(path))),
            instance_hour={k: float(v) for k, v in data["instance_hour"].items()},
            ebs_gb_month=float(ebs[data.get("root_volume_type", "gp3")] if isinstance(ebs, dict)
                               else ebs),
            eip_hour=float(data["eip_hour"]),
            default_root_gb=int(data.get("default_root_gb", 8)),
        )
    except OSError as error:
        raise ConfigError(f"cannot read price table {str(path)!r}: {error.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"price table {str(path)!r} is not valid: {error!r} (needs "
                          "instance_hour, ebs_gb_month and eip_hour)") from None


def load_prices(config: Config | None) -> PriceTable:
    """The shipped table, replaced or amended by the config's [prices] section."""
    section = config.named("prices").get("") if config is not None else None
    if section is None:
        return table_from_json(SHIPPED_TABLE)
    errors: list[str] = []
    table_path = SHIPPED_TABLE
    if "FILE" in section.keys:
        file_key = section.keys["FILE"]
        table_path = Path(os.path.expandvars(file_key.value)).expanduser()
        if not table_path.is_absolute():
            table_path = Path(file_key.origin.path).parent / table_path
    table = table_from_json(table_path)
    for name, key in section.keys.items():
        if name in PRICES_KEYS:
            continue
        try:
            instance_type = as_instance_type(name.lower())
            table.instance_hour[instance_type] = as_price(key.value)
            table.overridden.append(instance_type)
        except ValueError as error:
            errors.append(located(key.origin, section, name, f"{error} (a [prices] key is "
                                  "FILE, EBS_GB_MONTH, EIP_HOUR, DATE or an instance type)"))
    if "EBS_GB_MONTH" in section.keys:
        table.ebs_gb_month = as_price(section.keys["EBS_GB_MONTH"].value)
        table.overridden.append("EBS")
    if "EIP_HOUR" in section.keys:
        table.eip_hour = as_price(section.keys["EIP_HOUR"].value)
        table.overridden.append("Elastic IP")
    if "DATE" in section.keys:
        table.date = section.keys["DATE"].value
    if errors:
        raise ConfigError("\n".join(errors))
    return table


@dataclass
class Line:
    """One row of an estimate: QUANTITY machines of WHAT, each costing the parts below."""

    what: str
    quantity: int
    instance: float
    disk: float
    address: float
    notes: list[str] = field(default_factory=list)

    @property
    def each(self) -> float:
        return self.instance + self.disk + self.address

    @property
    def total(self) -> float:
        return self.each * self.quantity


@dataclass
class Estimate:
    template: str
    kind: str  # "desktops" or "cluster"
    hours: float
    days: float
    lines: list[Line]
    prices: PriceTable
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.total for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "template": self.template, "kind": self.kind, "hours": self.hours,
            "days": self.days, "total": round(self.total, 2),
            "prices": {"region": self.prices.region, "date": self.prices.date,
                       "overridden": self.prices.overridden},
            "lines": [{"what": line.what, "quantity": line.quantity,
                       "instance": round(line.instance, 4), "disk": round(line.disk, 4),
                       "elastic_ip": round(line.address, 4), "each": round(line.each, 4),
                       "total": round(line.total, 4)} for line in self.lines],
            "notes": self.notes,
        }


def machine_cost(prices: PriceTable, instance_type: str, hours: float, days: float,
                 disk_gb: int, elastic_ip: bool) -> tuple[float, float, float]:
    """(instance, disk, address) dollars for one machine over the course."""
    instance = hours * prices.hourly(instance_type)
    disk = disk_gb * prices.ebs_gb_month * days * 24 / HOURS_PER_MONTH
    address = days * 24 * prices.eip_hour if elastic_ip else 0.0
    return instance, disk, address


def check_span(hours: float, days: float) -> None:
    if days <= 0 or hours < 0:
        raise SclustError("--days must be more than 0 and --hours 0 or more")
    if hours > days * 24:
        raise SclustError(f"{hours:g} running hours do not fit in {days:g} day(s)")


def estimate_desktops(template: Any, prices: PriceTable, hours: float, days: float,
                      count: int | None = None) -> Estimate:
    """A course: COUNT desktops (default the template's), each up HOURS over DAYS."""
    check_span(hours, days)
    notes = []
    disk = template.volume_size
    if disk is None:
        disk = prices.default_root_gb
        notes.append(f"VOLUME_SIZE not set: {disk} GiB root volume assumed (the AMI decides)")
    instance, disk_cost, address = machine_cost(prices, template.instance_type, hours, days,
                                                disk, template.elastic_ips)
    line = Line(f"desktop ({template.instance_type}, {disk} GiB"
                + (", Elastic IP)" if template.elastic_ips else ")"),
                count or template.count, instance, disk_cost, address)
    return Estimate(template.name, "desktops", hours, days, [line], prices, notes)


def estimate_cluster(template: ClusterTemplate, prices: PriceTable, hours: float,
                     days: float) -> Estimate:
    """A cluster: the master and its nodes (by NODE_INSTANCE_TYPE's split), HOURS over DAYS."""
    check_span(hours, days)
    notes = []
    disk = template.root_volume_size
    if disk is None:
        disk = prices.default_root_gb
        notes.append(f"ROOT_VOLUME_SIZE not set: {disk} GiB per root volume assumed")
    if template.volumes:
        notes.append("[volume]s are not included (their size is on EC2): "
                     f"+ GiB × {prices.ebs_gb_month}/month each")
    lines = [Line(f"master ({template.master_instance_type})", 1,
                  *machine_cost(prices, template.master_instance_type, hours, days, disk, False))]
    remaining = template.cluster_size - 1
    for position, spec in enumerate(template.node_types):
        last = position == len(template.node_types) - 1
        take = remaining if last else min(spec.count or 1, remaining)
        remaining -= take
        if take <= 0:
            continue
        instance, disk_cost, _ = machine_cost(prices, spec.instance_type, hours, days, disk,
                                              False)
        what = f"node ({spec.instance_type})"
        if template.spot_bid:
            instance = min(instance, hours * template.spot_bid)
            what = f"node ({spec.instance_type}, spot ≤ ${template.spot_bid}/h)"
        lines.append(Line(what, take, instance, disk_cost, 0.0))
    return Estimate(template.name, "cluster", hours, days, lines, prices, notes)


def cost_so_far(prices: PriceTable, instance_type: str, run_seconds: float,
                exists_seconds: float, disk_gb: int | None, elastic_ip: bool) -> float | None:
    """Dollars a desktop has cost: its running time, its disk and address since creation."""
    try:
        hourly = prices.hourly(instance_type)
    except SclustError:
        return None
    disk = (disk_gb or prices.default_root_gb) * prices.ebs_gb_month
    hours_existed = exists_seconds / 3600
    return (run_seconds / 3600 * hourly + disk * hours_existed / HOURS_PER_MONTH
            + (hours_existed * prices.eip_hour if elastic_ip else 0.0))


def print_estimate(estimate: Estimate) -> None:
    from rich.console import Console
    from rich.table import Table

    title = (f"{estimate.kind} {estimate.template}: {estimate.hours:g} h running over "
             f"{estimate.days:g} day(s) — {estimate.prices.label}")
    table = Table(title=title, title_justify="left")
    for column in ("what", "count", "instance", "disk", "Elastic IP", "each", "total"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for line in estimate.lines:
        table.add_row(line.what, str(line.quantity), f"${line.instance:,.2f}",
                      f"${line.disk:,.2f}", f"${line.address:,.2f}", f"${line.each:,.2f}",
                      f"${line.total:,.2f}")
    table.caption = f"total ${estimate.total:,.2f} (USD, before tax and data transfer)"
    console = Console(width=120)
    console.print(table)
    for note in estimate.notes:
        console.print(f"note: {note}", highlight=False)
