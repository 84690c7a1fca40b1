"""The report's HTML building blocks: its style sheet, escaped text, numbers, intervals and images.

Plots are PNG images inside the page (base64), so the page needs no script, no network and no
tool to be read, printed or mailed.
"""

from __future__ import annotations

import base64
import html
import io
import re
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from sim.output import plots
from sim.output.intervals import Interval

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 70em; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f3f5f7; } td.l, th.l { text-align: left; }
.note { color: #555; font-size: 0.9em; } img { max-width: 100%; height: auto; }
details { margin: 0.5em 0 1em; } summary { cursor: pointer; font-weight: 600; }
"""


def escape(value: Any) -> str:
    """Any value as HTML text, quotes escaped too (safe inside attributes).

    Args:
        value: Anything; shown by ``str()``.

    Returns:
        The escaped text.
    """
    return html.escape(str(value), quote=True)


def page(title: str, parts: list[str]) -> str:
    """A complete HTML document.

    Args:
        title: The page's title.
        parts: Its body's HTML fragments, in order; empty ones are left out.

    Returns:
        The document's text.
    """
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(p for p in parts if p) + "\n</body></html>\n")


def paragraphs(text: str) -> str:
    """A scenario description as HTML paragraphs, with Markdown's **bold** and *italic*.

    Args:
        text: Paragraphs separated by blank lines.

    Returns:
        The ``<p>`` elements, or "" for no text.
    """
    out = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        escaped = escape(" ".join(paragraph.split()))
        escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
        out.append(f"<p>{re.sub(r'\*(.+?)\*', r'<em>\1</em>', escaped)}</p>")
    return "".join(out) if text.strip() else ""


def cell_interval(value: Interval) -> str:
    """A table cell with a mean and, below it, its interval and how many seeds it rests on.

    Args:
        value: From :func:`sim.output.intervals.interval` or :func:`~sim.output.intervals.difference`.

    Returns:
        The ``<td>`` element; a dash when there is no mean.
    """
    if not np.isfinite(value.mean):
        return "<td>-</td>"
    text = number(value.mean)
    if np.isfinite(value.low):
        text += f"<br><span class='note'>[{number(value.low)}, {number(value.high)}] {escape(value.label)}</span>"
    return f"<td>{text}</td>"


def number(x: float) -> str:
    """A number with thousands separators and two, one or no decimals as it grows.

    Args:
        x: The number.

    Returns:
        The text, e.g. ``1,234``, ``12.3`` or ``0.12``.
    """
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:,.1f}"
    return f"{x:,.2f}"


def image(alt: str, fig: Figure) -> str:
    """A figure as a PNG image inside the page.

    Args:
        alt: The image's text alternative.
        fig: The figure.

    Returns:
        A paragraph holding the ``<img>`` element.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=plots.DPI)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<p><img alt='{escape(alt)}' src='data:image/png;base64,{data}'></p>"
