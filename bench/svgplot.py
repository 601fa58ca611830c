"""A log-log line plot as a hand-written SVG, so the benchmark needs no plotting library."""

from __future__ import annotations

import math
from collections.abc import Sequence

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def loglog(
    title: str,
    xlabel: str,
    ylabel: str,
    series: Sequence[tuple[str, Sequence[tuple[float, float]], bool]],
    width: int = 640,
    height: int = 420,
) -> str:
    """`series` is (label, [(x, y)], dashed); axes span whole decades around the data."""
    points = [p for _, pts, _ in series for p in pts if p[0] > 0 and p[1] > 0]
    x0, x1 = _decades(p[0] for p in points)
    y0, y1 = _decades(p[1] for p in points)
    left, right, top, bottom = 70, 170, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (math.log10(x) - x0) / (x1 - x0) * plot_w

    def sy(y: float) -> float:
        return top + plot_h - (math.log10(y) - y0) / (y1 - y0) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left + plot_w / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>',
    ]
    for d in range(x0, x1 + 1):
        x = sx(10**d)
        out.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_label(10**d)}</text>'
        )
    for d in range(y0, y1 + 1):
        y = sy(10**d)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_label(10**d)}</text>')
    out.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>'
    )
    out.append(
        f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">{xlabel}</text>'
    )
    out.append(
        f'<text x="16" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {top + plot_h / 2})">{ylabel}</text>'
    )
    for i, (label, pts, dashed) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts if x > 0 and y > 0)
        dash = ' stroke-dasharray="5,4"' if dashed else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        if not dashed:
            out += [
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"/>'
                for x, y in pts
                if x > 0 and y > 0
            ]
        ly = top + 14 + 18 * i
        lx = left + plot_w + 12
        out.append(
            f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 24}" y2="{ly - 4}" stroke="{colour}" '
            f'stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{lx + 30}" y="{ly}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _decades(values) -> tuple[int, int]:
    logs = [math.log10(v) for v in values]
    low, high = math.floor(min(logs)), math.ceil(max(logs))
    return low, max(high, low + 1)


def _label(value: float) -> str:
    if value >= 1:
        return f"{value:,.0f}"
    return f"{value:g}"
