"""Spot price history as text: a summary per zone, and a plot drawn with characters.

A text plot, not a web page: it works over SSH, in a CI log and in `script`, needs no browser
or plotting library, and can be tested by reading it."""

from __future__ import annotations

from sclust.cloudadmin import SpotPrice

WIDTH = 72
HEIGHT = 12
MARKS = "*+ox#@%&"


def summary(prices: list[SpotPrice]) -> list[str]:
    """Per zone: the current (latest), average and maximum price."""
    lines = []
    for zone in sorted({p.zone for p in prices}):
        mine = [p for p in prices if p.zone == zone]
        current = max(mine, key=lambda p: p.timestamp).price
        average = sum(p.price for p in mine) / len(mine)
        lines.append(f"{zone}: current ${current:.4f}/h, average ${average:.4f}/h, "
                     f"max ${max(p.price for p in mine):.4f}/h ({len(mine)} changes)")
    return lines


def price_plot(prices: list[SpotPrice], title: str, width: int = WIDTH,
               height: int = HEIGHT) -> str:
    """PRICES over time, one mark per zone; a price holds until the next change."""
    zones = sorted({p.zone for p in prices})
    start = min(p.timestamp for p in prices)
    end = max(p.timestamp for p in prices)
    span = max((end - start).total_seconds(), 1.0)
    low = min(p.price for p in prices)
    high = max(p.price for p in prices)
    if high - low < 1e-9:
        low, high = low * 0.9, high * 1.1 + 1e-6
    grid = [[" "] * width for _ in range(height)]
    for number, zone in enumerate(zones):
        mark = MARKS[number % len(MARKS)]
        mine = sorted((p for p in prices if p.zone == zone), key=lambda p: p.timestamp)
        for column in range(width):
            moment = start.timestamp() + span * column / max(width - 1, 1)
            held = [p for p in mine if p.timestamp.timestamp() <= moment]
            if not held:
                continue
            level = round((held[-1].price - low) / (high - low) * (height - 1))
            grid[height - 1 - level][column] = mark
    lines = [title]
    for index, cells in enumerate(grid):
        value = high - (high - low) * index / max(height - 1, 1)
        lines.append(f"{value:9.4f} |" + "".join(cells))
    lines.append(" " * 10 + "+" + "-" * width)
    lines.append(" " * 11 + f"{start:%Y-%m-%d %H:%M}".ljust(width - 16) + f"{end:%Y-%m-%d %H:%M}")
    lines.append("  ".join(f"{MARKS[i % len(MARKS)]} {z}" for i, z in enumerate(zones)))
    return "\n".join(lines)
