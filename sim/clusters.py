"""Cluster organisations as data: who they are and which level each holds in each year.

The life cycle (admission, upgrades, exit) is a plan, ``level[c, year]``, so that a programme
operator can rewrite it year by year; the phases only read the current year's column.
"""

from __future__ import annotations

import numpy as np

from sim.scenario import LEVELS, Scenario

INACTIVE = -1


class ClusterTable:
    """Columns for cluster organisations plus their level plan.

    Attributes:
        names: Cluster names.
        region: County index of the cluster's hub.
        sector: Sector (knowledge base) index.
        plan: ``int8[clusters, years]``: level code (index into ``LEVELS``) or ``INACTIVE``.
        offset: Each cluster's fixed rounding offset in [0, 1).
        level: The level code of each cluster in the current year.
    """

    def __init__(self, scn: Scenario, rng: np.random.Generator):
        """Build the table and the level plan from the scenario's cluster list.

        Args:
            scn: The validated scenario.
            rng: Draws each cluster's rounding offset (see ``capacity``).
        """
        regions, sectors = list(scn.regions), list(scn.sectors)
        self.first_year = scn.scenario.start_year
        n_years = scn.scenario.end_year - self.first_year + 1
        self.names = [c.name for c in scn.clusters]
        self.region = np.array([regions.index(c.region) for c in scn.clusters], dtype=np.int16)
        self.sector = np.array([sectors.index(c.sector) for c in scn.clusters], dtype=np.int16)
        self.plan = np.full((len(scn.clusters), n_years), INACTIVE, dtype=np.int8)
        for i, c in enumerate(scn.clusters):
            last = n_years - 1 if c.end_year is None else c.end_year - self.first_year
            for (year, level), nxt in zip(c.levels, [*c.levels[1:], None]):
                stop = last if nxt is None else min(last, nxt[0] - self.first_year - 1)
                start = max(0, year - self.first_year)
                if start <= stop:
                    self.plan[i, start : stop + 1] = LEVELS.index(level)
        self.level = np.full(len(self.names), INACTIVE, dtype=np.int8)
        self.offset = rng.random(len(self.names))

    def capacity(self, per_cluster: np.ndarray) -> np.ndarray:
        """Whole-firm capacities whose expectation over clusters is ``per_cluster``.

        A scaled-down population gives fractional capacities (45 members x 0.01 = 0.45); each
        cluster rounds with its own fixed offset so that sizes stay steady from year to year
        and right on average.
        """
        return np.floor(per_cluster + self.offset)

    def __len__(self) -> int:
        return len(self.names)

    def set_year(self, year: int) -> None:
        """Make ``level`` the plan's column for ``year``."""
        self.level = self.plan[:, year - self.first_year].copy()

    @property
    def active(self) -> np.ndarray:
        """Boolean mask of clusters in the programme this year."""
        return self.level != INACTIVE

    def level_names(self) -> list[str]:
        """Current level of each cluster as text ("" when inactive)."""
        return [LEVELS[v] if v != INACTIVE else "" for v in self.level]

    def level_array(self, values: dict[str, float]) -> np.ndarray:
        """Map a per-level quantity onto clusters for this year (0 where inactive).

        Args:
            values: Quantity for each level name.

        Returns:
            ``float64[clusters]``.
        """
        table = np.array([values[name] for name in LEVELS] + [0.0])
        return table[self.level]  # INACTIVE = -1 picks the trailing 0
