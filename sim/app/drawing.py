"""Drawing helpers shared by the app's matplotlib views (the map and the network).

Figures are :class:`matplotlib.figure.Figure` objects rendered by Agg, never through ``pyplot``:
the server draws for many browser tabs from several threads, and pyplot keeps global state.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from sim.scenario.params import LEVELS

DPI = 100
PNG_COMPRESSION = 1  # zlib level: a redraw every simulated year matters more than a few kB
LEVEL_NAMES = {"arena": "Arena", "arena_pro": "Arena Pro", "nce": "NCE", "gce": "GCE"}
# matplotlib's default cycle, in the order sim.output.plots stacks the levels, so that a level has the
# same colour in the app, in a run folder's PNG files and in the report.
LEVEL_COLOURS = dict(zip(LEVELS, ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"), strict=True))


def figure(size: tuple[float, float]) -> Figure:
    """A figure drawn by Agg, never shown on a display.

    Args:
        size: Width and height in inches.

    Returns:
        The empty figure.
    """
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes.

    Drawn once and compressed lightly: ``savefig`` takes about twice as long, and the app redraws
    every simulated year.
    """
    fig.canvas.draw()
    return rgba_png(np.asarray(fig.canvas.buffer_rgba()))


def rgba_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of an RGBA image (height x width x 4)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="png", compress_level=PNG_COMPRESSION)
    return buffer.getvalue()
