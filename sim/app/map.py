"""The app's map of Norway: firms by county, ties between counties, cluster organisations by level.

County positions are the scenario's centroids (``[regions.*] lat, lon``). The coastline is Natural
Earth's 1:110m outline of mainland Norway (public domain, naturalearthdata.com), 48 points: enough
to recognise the country on a classroom screen, small enough to keep in the code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from sim.app.drawing import LEVEL_COLOURS, LEVEL_NAMES, figure, rgba_png
from sim.scenario.params import LEVELS
from sim.world.clusters import INACTIVE

if TYPE_CHECKING:
    from sim.model import ClusterModel

MAP_SIZE = (4.6, 5.0)  # inches
NORWAY_OUTLINE = np.array([
    (28.17, 71.19), (31.29, 70.45), (30.01, 70.19), (31.10, 69.56), (29.40, 69.16), (28.59, 69.06),
    (29.02, 69.77), (27.73, 70.16), (26.18, 69.83), (25.69, 69.09), (24.74, 68.65), (23.66, 68.89),
    (22.36, 68.84), (21.24, 69.37), (20.65, 69.11), (20.03, 69.07), (19.88, 68.41), (17.99, 68.57),
    (17.73, 68.01), (16.77, 68.01), (16.11, 67.30), (15.11, 66.19), (13.56, 64.79), (13.92, 64.45),
    (13.57, 64.05), (12.58, 64.07), (11.93, 63.13), (11.99, 61.80), (12.63, 61.29), (12.30, 60.12),
    (11.47, 59.43), (11.03, 58.86), (10.36, 59.47), (8.38, 58.31), (7.05, 58.08), (5.67, 58.59),
    (5.31, 59.66), (4.99, 61.97), (5.91, 62.61), (8.55, 63.45), (10.53, 64.49), (12.36, 65.88),
    (14.76, 67.81), (16.44, 68.56), (19.18, 69.82), (21.38, 70.26), (23.02, 70.20), (24.55, 71.03),
    (26.37, 70.99), (28.17, 71.19),
])  # fmt: skip
COUNTY_NAMES = {
    "oslo": "Oslo", "viken": "Viken", "innlandet": "Innlandet", "vestfold_og_telemark": "Vestfold og Telemark",
    "agder": "Agder", "rogaland": "Rogaland", "vestland": "Vestland", "more_og_romsdal": "Møre og Romsdal",
    "trondelag": "Trøndelag", "nordland": "Nordland", "troms_og_finnmark": "Troms og Finnmark",
}  # fmt: skip
# Where a county's name goes relative to its centroid (degrees lon, lat; alignment): below by
# default, beside it where the counties around Oslo crowd each other.
LABEL_OFFSETS = {
    "oslo": (0.6, 0.0, "left"), "viken": (0.7, -0.45, "left"), "innlandet": (0.6, 0.2, "left"),
    "vestfold_og_telemark": (0.3, -0.45, "center"), "agder": (0.0, -0.45, "center"),
}  # fmt: skip
MAP_LATITUDE = 65.0  # degrees: one degree of longitude is cos(65 deg) of one of latitude here
EXTENT = (4.0, 31.5, 57.3, 71.4)  # lon min, lon max, lat min, lat max
FIRM_BUBBLE_AREA = 900.0  # points^2 of the county with most firms
TIE_MAX_WIDTH = 6.0  # points, for the busiest pair of counties
CLUSTER_RING_DEG = 0.55  # clusters sit on a ring this far (degrees of latitude) around their county
CLUSTER_AREA, CLUSTER_AREA_PER_MEMBER = 40.0, 25.0  # points^2


def county_name(key: str) -> str:
    """A county's name as Norwegians write it (the key with spaces if it is not a known county)."""
    return COUNTY_NAMES.get(key, key.replace("_", " ").capitalize())


class NorwayMap:
    """The map of Norway, redrawn every simulated year.

    The outline, county names and legend are drawn once and kept as a bitmap; each year only the
    bubbles, lines, cluster markers and title are drawn over it (matplotlib's blitting), which is
    several times faster than drawing the whole figure again.
    """

    def __init__(self, model: ClusterModel):
        """Draw the parts that never change: outline, county names, legend.

        Args:
            model: A model whose scenario gives the counties.
        """
        self.fig = fig = figure(MAP_SIZE)
        self.ax = ax = fig.add_axes((0.0, 0.0, 1.0, 0.93))
        self.lon = np.array([r.lon for r in model.spec.regions.values()])
        self.lat = np.array([r.lat for r in model.spec.regions.values()])
        ax.fill(NORWAY_OUTLINE[:, 0], NORWAY_OUTLINE[:, 1], facecolor="#eef2f5", edgecolor="#9aa5b1", linewidth=0.8)
        for key, x, y in zip(model.region_names, self.lon, self.lat, strict=True):
            dx, dy, align = LABEL_OFFSETS.get(key, (0.0, -0.45, "center"))
            ax.text(x + dx, y + dy, county_name(key), ha=align, va="center", fontsize=6.5, color="#444444")
        ax.set_aspect(1.0 / np.cos(np.radians(MAP_LATITUDE)))
        ax.set_xlim(*EXTENT[:2])
        ax.set_ylim(*EXTENT[2:])
        ax.axis("off")
        handles = [Line2D([], [], marker="o", linestyle="", color=LEVEL_COLOURS[lv], markeredgecolor="black",
                          label=LEVEL_NAMES[lv]) for lv in LEVELS]
        ax.legend(handles=handles, loc="lower right", fontsize="small", title="Clusters", title_fontsize="small")
        fig.canvas.draw()
        self._background = fig.canvas.copy_from_bbox(fig.bbox)

    def png(self, model: ClusterModel) -> bytes:
        """The map of a world at the end of its last simulated year, as PNG.

        Args:
            model: The model (with the counties the map was made for).

        Returns:
            PNG bytes: one grey bubble per county (area: firms), lines between counties (width:
            collaboration ties across them), one marker per cluster organisation in the programme
            (colour: level, area: members) and a title with the year.
        """
        f = model.firms
        alive = f.alive_rows()
        firms = np.bincount(f.region[alive], minlength=len(self.lon))
        ties, local = _ties_between_counties(model, self.lon, self.lat)
        year = model.year - 1 if model.year > model.spec.scenario.start_year else model.year
        artists = [
            self.ax.add_collection(ties),
            self.ax.scatter(self.lon, self.lat, s=FIRM_BUBBLE_AREA * firms / max(firms.max(), 1), color="#7f7f7f",
                            alpha=0.35),
            _clusters(self.ax, model, self.lon, self.lat),
            self.fig.text(0.5, 0.97, f"Norway {year}: {len(alive):,} simulated firms; {local:.0%} of ties within "
                          "a county", ha="center", va="center", fontsize="medium"),
        ]
        canvas = self.fig.canvas
        canvas.restore_region(self._background)
        for artist in artists:
            self.fig.draw_artist(artist)
        image = rgba_png(np.asarray(canvas.buffer_rgba()))
        for artist in artists:
            artist.remove()
        return image


def _ties_between_counties(model: ClusterModel, lon: np.ndarray, lat: np.ndarray) -> tuple[LineCollection, float]:
    """Lines between counties (width: ties across them) and the share of ties inside one county."""
    ties, region = model.ties, model.firms.region
    if len(ties) == 0:
        return LineCollection([]), 0.0
    ra, rb = region[ties.a].astype(np.int64), region[ties.b].astype(np.int64)
    n = len(lon)
    pairs = np.bincount(np.minimum(ra, rb) * n + np.maximum(ra, rb), minlength=n * n).reshape(n, n)
    across = np.triu(pairs, 1)
    i, j = np.nonzero(across)
    segments = np.stack([np.column_stack([lon[i], lat[i]]), np.column_stack([lon[j], lat[j]])], axis=1)
    widths = TIE_MAX_WIDTH * across[i, j] / max(int(across.max()), 1)
    lines = LineCollection(segments, linewidths=widths, colors="#1f77b4", alpha=0.35)
    return lines, float(np.trace(pairs) / len(ties))


def _clusters(ax, model: ClusterModel, lon: np.ndarray, lat: np.ndarray):
    """One marker per active cluster, spread on a ring around its county's centroid."""
    c, f = model.clusters, model.firms
    active = np.flatnonzero(c.level != INACTIVE)
    rows = np.flatnonzero(f.member[: f.n])
    members = np.bincount(f.cluster[rows], minlength=len(c))
    x, y = np.zeros(len(active)), np.zeros(len(active))
    for region in np.unique(c.region[active]):
        here = np.flatnonzero(c.region[active] == region)
        angles = np.pi / 2 + 2 * np.pi * np.arange(len(here)) / len(here)
        ring = CLUSTER_RING_DEG if len(here) > 1 else 0.0
        x[here] = lon[region] + ring * np.cos(angles) / np.cos(np.radians(MAP_LATITUDE))
        y[here] = lat[region] + ring * np.sin(angles)
    colours = [LEVEL_COLOURS[LEVELS[c.level[k]]] for k in active]
    return ax.scatter(x, y, s=CLUSTER_AREA + CLUSTER_AREA_PER_MEMBER * members[active], c=colours or "none",
                      edgecolors="black", linewidths=0.6)
