"""What a cluster has cost and will cost today: `listclusters`' spend column and BUDGET.

    spend = cluster_spend(info, prices)      # spent, projected, warning

Spent: each live node's hours since its launch × its on-demand price (a spot node's bid is an
upper bound it rarely reaches: the on-demand price is shown), plus its root disk since then.
A cluster has no calendar: the projection runs the nodes running now to the end of today
(midnight, this machine's zone). Warns from 80 % of BUDGET.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sclust.desktops.budget import WARN_AT
from sclust.desktops.cost import HOURS_PER_MONTH, PriceTable
from sclust.errors import SclustError
from sclust.state import ClusterInfo


@dataclass
class ClusterSpend:
    spent: float
    projected: float
    horizon: datetime
    budget: float | None
    unpriced: list[str]  # instance types the table lacks (their cost is left out)

    @property
    def warning(self) -> str | None:
        if not self.budget:
            return None
        if self.spent >= WARN_AT * self.budget:
            return (f"spent ${self.spent:,.2f}, {self.spent / self.budget:.0%} of the budget "
                    f"${self.budget:,.2f}")
        if self.projected > self.budget:
            return (f"projected ${self.projected:,.2f} by {self.horizon:%Y-%m-%d %H:%M} is over "
                    f"the budget ${self.budget:,.2f}")
        return None

    def to_json(self) -> dict[str, object]:
        return {"spent": round(self.spent, 4), "projected": round(self.projected, 4),
                "horizon": self.horizon.isoformat(timespec="seconds"), "budget": self.budget,
                "warning": self.warning, "unpriced": self.unpriced}


def cluster_spend(info: ClusterInfo, prices: PriceTable, now: datetime | None = None
                  ) -> ClusterSpend:
    now = now or datetime.now(timezone.utc)
    local = now.astimezone()
    horizon = (local.replace(hour=0, minute=0, second=0, microsecond=0)
               + timedelta(days=1)).astimezone(timezone.utc)
    ahead = (horizon - now).total_seconds() / 3600
    settings = info.settings
    disk_gb = (settings.root_volume_size if settings else None) or prices.default_root_gb
    disk_hour = disk_gb * prices.ebs_gb_month / HOURS_PER_MONTH
    spent = projected = 0.0
    unpriced: list[str] = []
    for node in info.nodes:
        if node.launch_time is None or node.state in ("terminated", "shutting-down"):
            continue
        try:
            hourly = prices.hourly(node.instance_type)
        except SclustError:
            unpriced.append(node.instance_type)
            continue
        lived = max(0.0, (now - node.launch_time).total_seconds() / 3600)
        running = node.state in ("pending", "running")
        cost = lived * disk_hour + (lived * hourly if running else 0.0)
        spent += cost
        projected += cost + ahead * disk_hour + (ahead * hourly if running else 0.0)
    return ClusterSpend(spent, projected, horizon, settings.budget if settings else None,
                        sorted(set(unpriced)))
