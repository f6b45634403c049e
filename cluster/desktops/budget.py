"""A course's budget: spend so far, the projection to the end of its calendar, the cap's time.

    view = budget_view(course, prices, now)
    view.spent, view.projected, view.horizon, view.cap_at, view.warning

Spend so far is `desktops list`'s cost column summed (running hours × price, root disks and
Elastic IPs since the course was created). The projection adds what the desktops will cost
until the horizon: SCHEDULE_END's day if the course has one, else the end of this week's last
class (SCHEDULE), else today's AUTO_STOP for the desktops running now (else: now). Desktops
run during class hours (SCHEDULE), or until AUTO_STOP when there is no calendar; disks and
addresses bill all the time. The cap's time is when that projection reaches BUDGET (looked
for up to a year ahead): BUDGET_ACTION = stop stops the desktops then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sclust.desktops.calendar import parse_schedule
from sclust.desktops.cost import HOURS_PER_MONTH, PriceTable, cost_so_far
from sclust.desktops.schedules import course_end, zone_of
from sclust.desktops.state import Course
from sclust.errors import SclustError

WARN_AT = 0.8
SEARCH = timedelta(days=366)


@dataclass
class BudgetView:
    budget: float | None
    spent: float
    projected: float
    horizon: datetime
    cap_at: datetime | None  # when the projection reaches the budget (None: not before a year)
    action: str = "warn"

    @property
    def fraction(self) -> float | None:
        return None if not self.budget else self.spent / self.budget

    @property
    def warning(self) -> str | None:
        """A line for the instructor at 80 % of the budget and beyond, else None."""
        if not self.budget:
            return None
        if self.spent >= self.budget:
            what = "the desktops are stopped" if self.action == "stop" else "raise BUDGET"
            return (f"spent ${self.spent:,.2f} of the budget ${self.budget:,.2f} "
                    f"({self.spent / self.budget:.0%}): {what}")
        if self.spent >= WARN_AT * self.budget:
            return (f"spent ${self.spent:,.2f}, {self.spent / self.budget:.0%} of the budget "
                    f"${self.budget:,.2f}")
        if self.projected > self.budget and self.cap_at is not None:
            then = "stopped" if self.action == "stop" else "over budget"
            return (f"projected ${self.projected:,.2f} by {self.horizon:%Y-%m-%d %H:%M %Z} is "
                    f"over the budget ${self.budget:,.2f}: {then} at "
                    f"{self.cap_at:%Y-%m-%d %H:%M %Z}")
        return None

    def to_json(self) -> dict[str, object]:
        return {"budget": self.budget, "spent": round(self.spent, 4),
                "projected": round(self.projected, 4),
                "horizon": self.horizon.isoformat(timespec="seconds"),
                "cap_at": self.cap_at.isoformat(timespec="seconds") if self.cap_at else None,
                "action": self.action, "warning": self.warning}


def running_windows(course: Course, now: datetime, until: datetime
                    ) -> list[tuple[datetime, datetime, int]]:
    """(from, to, desktops running) ahead of NOW: class hours, or AUTO_STOP's day."""
    settings = course.require_settings()
    zone = zone_of(settings)
    if settings.schedule:
        try:
            calendar = parse_schedule(settings.schedule)
        except ValueError as error:
            raise SclustError(f"the course's SCHEDULE (from its tags): {error}") from None
        windows = calendar.windows(now, until, zone)
        return [(a, b, len(course.desktops)) for a, b in windows]
    running = sum(d.state in ("pending", "running") for d in course.desktops)
    if not running:
        return []
    end = until
    if settings.auto_stop:
        hours, minutes = (int(p) for p in settings.auto_stop.split(":"))
        local = now.astimezone(zone)
        stop = local.replace(hour=hours, minute=minutes, second=0, microsecond=0)
        end = min(until, stop if stop > local else stop + timedelta(days=1))
    return [(now, end, running)] if end > now else []


def default_horizon(course: Course, now: datetime) -> datetime:
    settings = course.require_settings()
    end = course_end(settings)
    if end is not None:
        return max(end, now)
    if settings.schedule:
        zone = zone_of(settings)
        local = now.astimezone(zone)
        monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0,
                                                                    microsecond=0)
        week_end = monday + timedelta(days=7)
        windows = running_windows(course, now, week_end)
        return windows[-1][1] if windows else now
    windows = running_windows(course, now, now + timedelta(days=1))
    return windows[-1][1] if windows else now


def budget_view(course: Course, prices: PriceTable, now: datetime | None = None
                ) -> BudgetView:
    """Spend, projection and the cap's time of COURSE (its settings say BUDGET)."""
    settings = course.require_settings()
    now = now or datetime.now(timezone.utc)
    created = settings.created_at
    exists = (now - created).total_seconds() if created else 0.0
    spent = 0.0
    for desktop in course.desktops:
        cost = cost_so_far(prices, desktop.instance_type, desktop.running_seconds(now), exists,
                           settings.volume_size, desktop.elastic_ip is not None)
        spent += cost or 0.0
    hourly = prices.hourly(settings.instance_type)
    disk = (settings.volume_size or prices.default_root_gb) * prices.ebs_gb_month
    fixed = sum(disk / HOURS_PER_MONTH + (prices.eip_hour if d.elastic_ip else 0.0)
                for d in course.desktops)  # per hour, while the desktops exist

    def cost_until(then: datetime) -> float:
        hours = max(0.0, (then - now).total_seconds() / 3600)
        running = sum((min(b, then) - a).total_seconds() / 3600 * n
                      for a, b, n in running_windows(course, now, then) if a < then)
        return spent + fixed * hours + hourly * running

    horizon = default_horizon(course, now).astimezone(timezone.utc)
    view = BudgetView(settings.budget, spent, cost_until(horizon), horizon, None,
                      settings.budget_action)
    if settings.budget is not None:
        cap = cap_time(course, now, settings.budget, spent, fixed, hourly,
                       course_end(settings))
        view.cap_at = cap.astimezone(timezone.utc) if cap else None
    return view


def cap_time(course: Course, now: datetime, budget: float, spent: float, fixed: float,
             hourly: float, end: datetime | None) -> datetime | None:
    """When spend reaches BUDGET, spending FIXED an hour always and HOURLY per running desktop
    in the running windows (None if not before END or a year from now)."""
    if spent >= budget:
        return now
    limit = min(end, now + SEARCH) if end else now + SEARCH
    total, at = spent, now
    pieces = [(a, b, n) for a, b, n in running_windows(course, now, limit)]
    pieces.append((limit, limit, 0))
    for start, stop, count in pieces:
        # Before the window: fixed costs only.
        if start > at:
            gap = (start - at).total_seconds() / 3600
            if fixed > 0 and total + fixed * gap >= budget:
                return at + timedelta(hours=(budget - total) / fixed)
            total += fixed * gap
            at = start
        rate = fixed + hourly * count
        span = (stop - at).total_seconds() / 3600
        if span > 0 and rate > 0 and total + rate * span >= budget:
            return at + timedelta(hours=(budget - total) / rate)
        total += rate * max(span, 0)
        at = max(at, stop)
    return None
