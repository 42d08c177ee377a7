"""Charts drawn on the server as SVG: no script, nothing fetched, readable in both
languages (labels and figures stay HTML beside the drawing, so they follow the page's
direction and digits)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

BAR_WIDTH = 240  # px of the longest bar
COLUMN_AREA = (720, 120)  # px: the per-day chart's drawing


def bar(value: float, largest: float, *, mark: float | None = None, tone: str = "") -> Markup:
    """One horizontal bar scaled to ``largest``; a tick at ``mark`` when given."""
    width = 0 if largest <= 0 else round(BAR_WIDTH * max(value, 0) / largest)
    parts = [
        Markup('<svg class="bar {}" width="{}" height="14" viewBox="0 0 {} 14" role="img" '
               'aria-hidden="true">').format(tone, BAR_WIDTH, BAR_WIDTH),
        Markup('<rect x="0" y="2" width="{}" height="10" rx="2"></rect>').format(width),
    ]  # fmt: skip
    if mark is not None and largest > 0:
        at = round(BAR_WIDTH * max(mark, 0) / largest)
        parts.append(
            Markup('<line class="mark" x1="{0}" x2="{0}" y1="0" y2="14"></line>').format(at)
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def columns(values: Sequence[float], titles: Sequence[str]) -> Markup:
    """Vertical columns, one per value (a day), each with its title as a tooltip."""
    width, height = COLUMN_AREA
    largest = max(values, default=0)
    step = width / max(len(values), 1)
    parts = [
        Markup('<svg class="columns" viewBox="0 0 {} {}" width="100%" height="{}" role="img" '
               'preserveAspectRatio="none">').format(width, height, height)
    ]  # fmt: skip
    for i, (value, title) in enumerate(zip(values, titles, strict=True)):
        tall = 0 if largest <= 0 else round((height - 4) * value / largest)
        parts.append(
            Markup('<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}"><title>{}</title></rect>')
            .format(i * step + 1, height - tall, max(step - 2, 1), tall, title)
        )  # fmt: skip
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
