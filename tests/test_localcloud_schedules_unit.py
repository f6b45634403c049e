"""How the local cloud reads EventBridge Scheduler expressions (sclust.localcloud.schedules):
cron fields in the schedule's zone, at(), rate(), EndDate — on moto's own schedule objects."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from moto.scheduler.models import Schedule

from sclust.localcloud.schedules import Cron, due

UTC = timezone.utc


def schedule(expression: str, zone: str = "UTC", end: float | None = None) -> Schedule:
    return Schedule("us-east-1", "123456789012", "g", "s", None, expression, zone,
                    {"Mode": "OFF"}, {"Arn": "arn:aws:scheduler:::aws-sdk:ec2:stopInstances"},
                    None, None, None, end, None)


def around(moment: datetime, seconds: float = 2) -> tuple[datetime, datetime]:
    return moment - timedelta(seconds=seconds), moment + timedelta(seconds=seconds)


def test_a_weekday_cron_runs_at_its_minute_in_its_zone_only() -> None:
    madrid = schedule("cron(45 8 ? * MON-FRI *)", "Europe/Madrid")
    wednesday = datetime(2026, 12, 2, 7, 45, tzinfo=UTC)  # 08:45 in Madrid (winter)
    assert due(madrid, *around(wednesday))
    assert not due(madrid, *around(wednesday + timedelta(hours=1)))
    assert not due(madrid, *around(wednesday + timedelta(days=3)))  # Saturday
    summer = datetime(2026, 7, 1, 6, 45, tzinfo=UTC)  # 08:45 in Madrid (summer time)
    assert due(madrid, *around(summer))


def test_names_lists_and_steps_read_like_eventbridge() -> None:
    cron = Cron.parse("cron(0/15 9-10 ? * SUN,7 2026)")
    sunday = datetime(2026, 12, 6, 9, 30)
    assert cron.matches(sunday) and cron.matches(sunday - timedelta(days=1))  # 7 = Saturday
    assert not cron.matches(sunday.replace(minute=31))
    assert not cron.matches(sunday - timedelta(days=2))
    with pytest.raises(ValueError):
        Cron.parse("cron(0 25 ? * * *)")


def test_at_runs_once_and_end_date_ends_a_cron() -> None:
    once = schedule("at(2026-12-02T10:00:00)", "Europe/Madrid")
    assert due(once, *around(datetime(2026, 12, 2, 9, 0, tzinfo=UTC)))
    assert not due(once, *around(datetime(2026, 12, 2, 10, 0, tzinfo=UTC)))
    ended = schedule("cron(0 9 * * ? *)", end=datetime(2026, 12, 3, tzinfo=UTC).timestamp())
    assert due(ended, *around(datetime(2026, 12, 2, 9, 0, tzinfo=UTC)))
    assert not due(ended, *around(datetime(2026, 12, 4, 9, 0, tzinfo=UTC)))


def test_a_rate_runs_every_period_from_its_creation() -> None:
    every = schedule("rate(5 minutes)")
    start = datetime.fromtimestamp(every.creation_date, UTC).replace(second=0, microsecond=0)
    fired = [due(every, start + timedelta(minutes=m, seconds=-30),
                 start + timedelta(minutes=m, seconds=30)) for m in range(1, 11)]
    assert fired.count(True) == 2
