"""Server-side SVG geometry for the dashboard's charts: no script, no library, no inline style (the
panel's Content-Security-Policy refuses style attributes; SVG presentation attributes such as
`height` are geometry, not style). The templates draw what these dataclasses describe; colours
come from dashboard.css through class names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.formats import date_format, number_format
from django.utils.translation import gettext, ngettext

from .dashboard import Bucket, Grain

WIDTH = 960
HEIGHT = 260
LEFT = 72  # room for the axis labels
RIGHT = 8
TOP = 12
BOTTOM = 28  # room for the bucket labels
# At most this many labels under the bars (every n-th bucket is labelled beyond it).
MAX_LABELS = 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str  # the bar's tooltip and its accessible name
    amount: Decimal
    count: int
    show_label: bool
    label_x: float


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    left: int
    right_edge: int
    baseline: float
    label_y: float
    bars: list[Bar]
    ticks: list[Tick]
    empty: bool


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is at least `value` (the axis top)."""
    if value <= 0:
        return Decimal(1)
    power = Decimal(1)
    while power * 10 <= value:
        power *= 10
    while power > value:
        power /= 10
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if power * step >= value:
            return power * step
    return power * 10  # pragma: no cover - the loop above always returns


def bucket_label(start: date, grain: Grain) -> str:
    if grain == "month":
        return date_format(start, "M Y")
    return date_format(start, "d.m")


def bucket_title(bucket: Bucket, grain: Grain) -> str:
    when = {
        "day": date_format(bucket.start, "j E Y"),
        "week": date_format(bucket.start, "j E Y"),
        "month": date_format(bucket.start, "F Y"),
    }[grain]
    money = number_format(bucket.amount, 2, force_grouping=True)
    if grain == "week":
        when = gettext("неделя с %(day)s") % {"day": when}
    count = ngettext("%(n)s платёж", "%(n)s платежей", bucket.count) % {"n": bucket.count}
    return f"{when}: {money} ₽, {count}"


def column_chart(series: list[Bucket], grain: Grain) -> ColumnChart:
    top = nice_ceiling(max((b.amount for b in series), default=Decimal(0)))
    plot_h = HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / max(len(series), 1)
    gap = min(slot * 0.2, 6.0)
    every = max(1, -(-len(series) // MAX_LABELS))
    bars = []
    for i, bucket in enumerate(series):
        height = float(bucket.amount / top) * plot_h if top else 0.0
        x = LEFT + i * slot + gap / 2
        bars.append(
            Bar(
                x=round(x, 2),
                y=round(TOP + plot_h - height, 2),
                width=round(max(slot - gap, 1.0), 2),
                height=round(height, 2),
                label=bucket_label(bucket.start, grain),
                title=bucket_title(bucket, grain),
                amount=bucket.amount,
                count=bucket.count,
                show_label=i % every == 0,
                label_x=round(LEFT + i * slot + slot / 2, 2),
            )
        )
    ticks = [
        Tick(
            y=round(TOP + plot_h - plot_h * k / 4, 2),
            label=number_format(top * k / 4, 0, force_grouping=True),
        )
        for k in range(5)
    ]
    return ColumnChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right_edge=WIDTH - RIGHT,
        baseline=TOP + plot_h,
        label_y=HEIGHT - 8,
        bars=bars,
        ticks=ticks,
        empty=not any(b.amount for b in series),
    )
