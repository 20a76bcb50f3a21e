"""Server-side SVG charts for the portal: pure functions, data in, an ``<svg>`` string out (no script).

Every label is escaped; every chart has ``role="img"`` and an ``aria-label``, uses the CJK font stack and
scales with its ``viewBox``. Rates are basis points (0..10000) as the projections give them; ``None`` is a gap.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import escape

from ledger.reports import OUTCOME_SERIES

__all__ = [
    "FONT",
    "GRADE_COLORS",
    "OUTCOME_SERIES",
    "bar_chart",
    "column_chart",
    "line_chart",
    "score_gauge",
    "stacked_column_chart",
]

FONT = '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif'
GRADE_COLORS = {"A": "#2e7d32", "B": "#1565c0", "C": "#f9a825", "D": "#c62828"}


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}" style="font-family: {escape(FONT)}; font-size: 12px; '
        f'max-width: 100%; height: auto">'
        f"<title>{escape(label)}</title>"
    )


def _check_lengths(labels: Sequence[str], values: Sequence[object], what: str) -> None:
    if len(values) != len(labels):
        raise ValueError(f"{what}: {len(values)} values for {len(labels)} labels")


def _nice_top(top: int) -> int:
    """The smallest of 1, 2, 5 times a power of ten not below ``top`` (at least 1)."""
    if top <= 1:
        return 1
    scale = 1
    while True:
        for m in (1, 2, 5):
            if m * scale >= top:
                return m * scale
        scale *= 10


def _steps(top: int) -> int:
    """How many grid steps divide ``top`` (1, 2 or 5 times a power of ten) into whole, even numbers."""
    if top <= 5:
        return top
    return 5 if str(top)[0] in "15" else 4


def _percent(bp: int) -> str:
    return f"{bp / 100:.0f}%"


def bar_chart(items: Sequence[tuple[str, int, str]], *, label: str, width: int = 480) -> str:
    """Horizontal bars: ``items`` are (label, count, colour); each bar carries its count.

    Raises:
        ValueError: a count is negative.
    """
    if any(count < 0 for _, count, _ in items):
        raise ValueError("bar_chart: negative count")
    bar_h, gap, left, right = 22, 8, 96, 56
    height = max(1, len(items)) * (bar_h + gap) + gap
    top = max([*(c for _, c, _ in items), 1])
    parts = [_svg_open(width, height, label)]
    for n, (name, count, color) in enumerate(items):
        y = gap + n * (bar_h + gap)
        w = 0 if count == 0 else max(2, (width - left - right) * count // top)
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(name)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w}" height="{bar_h}" fill="{escape(color)}" rx="3"/>')
        parts.append(f'<text x="{left + w + 6}" y="{y + 15}">{count}</text>')
    if not items:
        parts.append(f'<text x="{width // 2}" y="{height // 2 + 4}" text-anchor="middle">暂无数据</text>')
    parts.append("</svg>")
    return "".join(parts)


def _frame(
    parts: list[str], labels: Sequence[str], width: int, height: int, top: int, fmt: str
) -> tuple[int, int, int, float]:
    """Draw the axes, grid and x labels; return (left, plot bottom y, plot height, slot width)."""
    left, right, top_pad, bottom = 52, 12, 12, 40
    plot_h = height - top_pad - bottom
    base = top_pad + plot_h
    slot = (width - left - right) / max(1, len(labels))
    steps = _steps(top) if fmt != "bp" else 4
    for i in range(steps + 1):
        v = top * i // steps
        y = base - plot_h * i // steps
        parts.append(f'<line x1="{left}" y1="{y}" x2="{width - right}" y2="{y}" stroke="#e0e0e0"/>')
        text = _percent(v) if fmt == "bp" else str(v)
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" fill="#555">{text}</text>')
    every = max(1, (len(labels) + 11) // 12)  # at most 12 x labels
    for n, name in enumerate(labels):
        if n % every:
            continue
        x = left + slot * n + slot / 2
        parts.append(
            f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle" fill="#555" font-size="10">{escape(name)}</text>'
        )
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#888"/>')
    return left, base, plot_h, slot


def column_chart(
    labels: Sequence[str], values: Sequence[int], *, label: str, color: str = "#b71c1c", width: int = 640
) -> str:
    """Vertical columns, one per label (e.g. contracts registered per month), each titled with its value.

    Raises:
        ValueError: the lengths differ or a value is negative.
    """
    _check_lengths(labels, values, "column_chart")
    if any(v < 0 for v in values):
        raise ValueError("column_chart: negative value")
    height = 220
    top = _nice_top(max([*values, 1]))
    parts = [_svg_open(width, height, label)]
    left, base, plot_h, slot = _frame(parts, labels, width, height, top, "count")
    for n, (name, v) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * v // top
        x = left + slot * n + slot * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h}" width="{slot * 0.7:.1f}" height="{h}" fill="{escape(color)}">'
            f"<title>{escape(name)}: {v}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int | None], str]],
    *,
    label: str,
    width: int = 640,
) -> str:
    """Lines of rates in basis points (0..10000) over ``labels``, with a legend; ``None`` values are gaps.

    Raises:
        ValueError: a series' length differs from the labels', or a value is outside 0..10000.
    """
    for name, values, _ in series:
        _check_lengths(labels, values, f"line_chart series {name}")
        if any(v is not None and not 0 <= v <= 10000 for v in values):
            raise ValueError(f"line_chart series {name}: a rate outside 0..10000 basis points")
    height = 240
    parts = [_svg_open(width, height, label)]
    left, base, plot_h, slot = _frame(parts, labels, width, height - 20, 10000, "bp")
    for k, (name, values, color) in enumerate(series):
        points: list[list[str]] = [[]]
        for n, v in enumerate(values):
            if v is None:
                points.append([])
                continue
            x = left + slot * n + slot / 2
            y = base - plot_h * v / 10000
            points[-1].append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{escape(color)}">'
                f"<title>{escape(name)} {escape(labels[n])}: {v / 100:.2f}%</title></circle>"
            )
        for run in points:
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{escape(color)}" stroke-width="2"/>'
                )
        lx = left + k * 170
        parts.append(f'<rect x="{lx}" y="{height - 14}" width="12" height="4" fill="{escape(color)}"/>')
        parts.append(f'<text x="{lx + 16}" y="{height - 8}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def stacked_column_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int], str]],
    *,
    label: str,
    width: int = 640,
) -> str:
    """Stacked columns over ``labels`` (e.g. a subject's milestones by outcome per month due), with a legend
    listing each series' total.

    Raises:
        ValueError: a series' length differs from the labels', or a value is negative.
    """
    for name, values, _ in series:
        _check_lengths(labels, values, f"stacked_column_chart series {name}")
        if any(v < 0 for v in values):
            raise ValueError(f"stacked_column_chart series {name}: negative value")
    legend_rows = (len(series) + 3) // 4
    height = 220 + 18 * legend_rows
    totals = [sum(values[n] for _, values, _ in series) for n in range(len(labels))]
    top = _nice_top(max([*totals, 1]))
    parts = [_svg_open(width, height, label)]
    left, base, plot_h, slot = _frame(parts, labels, width, 220, top, "count")
    for n, name in enumerate(labels):
        y: float = base
        x = left + slot * n + slot * 0.15
        for sname, values, color in series:
            v = values[n]
            if v == 0:
                continue
            h = plot_h * v / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{escape(color)}">'
                f"<title>{escape(name)} {escape(sname)}: {v}</title></rect>"
            )
    for k, (sname, values, color) in enumerate(series):
        lx = left + (k % 4) * 145
        ly = 224 + 18 * (k // 4)
        parts.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{escape(color)}"/>')
        parts.append(f'<text x="{lx + 16}" y="{ly + 10}">{escape(sname)} {sum(values)}</text>')
    if not labels:
        parts.append(f'<text x="{width // 2}" y="110" text-anchor="middle">暂无数据</text>')
    parts.append("</svg>")
    return "".join(parts)


def score_gauge(score: int, grade: str, thresholds: Sequence[tuple[str, int]], *, width: int = 480) -> str:
    """A 0..1000 scale banded by grade with a marker at ``score``. ``thresholds`` are (grade, lowest score),
    highest first, e.g. ``[("A", 900), ("B", 750), ("C", 600), ("D", 0)]``.

    Raises:
        ValueError: ``score`` is outside 0..1000 or the thresholds do not descend within 0..1000.
    """
    if not 0 <= score <= 1000:
        raise ValueError(f"score_gauge: score {score} outside 0..1000")
    lows = [low for _, low in thresholds]
    if any(not 0 <= low <= 1000 for low in lows) or lows != sorted(lows, reverse=True):
        raise ValueError("score_gauge: thresholds must descend within 0..1000")
    height, left, right, y, bar_h = 70, 10, 10, 26, 16
    span = width - left - right
    parts = [_svg_open(width, height, f"评分 {score}，等级 {grade}")]
    upper = 1000
    for name, low in thresholds:
        x0 = left + span * low // 1000
        x1 = left + span * upper // 1000
        color = GRADE_COLORS.get(name, "#bdbdbd")
        parts.append(
            f'<rect x="{x0}" y="{y}" width="{max(0, x1 - x0)}" height="{bar_h}" fill="{color}" opacity="0.35"/>'
        )
        parts.append(f'<text x="{(x0 + x1) // 2}" y="{y + 12}" text-anchor="middle">{escape(name)}</text>')
        upper = low
    mx = left + span * score // 1000
    parts.append(f'<line x1="{mx}" y1="{y - 6}" x2="{mx}" y2="{y + bar_h + 6}" stroke="#222" stroke-width="3"/>')
    parts.append(
        f'<text x="{mx}" y="{y - 10}" text-anchor="middle" font-weight="bold">{score}（{escape(grade)}）</text>'
    )
    parts.append(f'<text x="{left}" y="{height - 4}" fill="#555">0</text>')
    parts.append(f'<text x="{width - right}" y="{height - 4}" text-anchor="end" fill="#555">1000</text>')
    parts.append("</svg>")
    return "".join(parts)
