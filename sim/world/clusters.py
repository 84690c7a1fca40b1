"""Cluster organisations as data: who they are and which level each holds in each year.

The life cycle (admission, upgrades, exit) is a plan, ``level[c, year]``, so that a programme
operator can rewrite it year by year; the phases only read the current year's column.
"""

from __future__ import annotations

import numpy as np

from sim.scenario.params import LEVELS
from sim.scenario.schema import Scenario

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
        region_of = {name: i for i, name in enumerate(scn.regions)}
        sector_of = {name: i for i, name in enumerate(scn.sectors)}
        clusters = scn.all_clusters
        self.first_year = scn.scenario.start_year
        n_years = scn.scenario.end_year - self.first_year + 1
        self.names = [c.name for c in clusters]
        self.region = np.array([region_of[c.region] for c in clusters], dtype=np.int16)
        self.sector = np.array([sector_of[c.sector] for c in clusters], dtype=np.int16)
        self.plan = np.full((len(clusters), n_years), INACTIVE, dtype=np.int8)
        for i, c in enumerate(clusters):
            last = n_years - 1 if c.end_year is None else c.end_year - self.first_year
            for (year, level), nxt in zip(c.levels, [*c.levels[1:], None]):
                stop = last if nxt is None else min(last, nxt[0] - self.first_year - 1)
                start = max(0, year - self.first_year)
                if start <= stop:
                    self.plan[i, start : stop + 1] = LEVELS.index(level)
        self.level = np.full(len(self.names), INACTIVE, dtype=np.int8)
        self.offset = rng.random(len(self.names))
        if not scn.programme.enabled:
            self.plan[:] = INACTIVE  # the counterfactual: the same organisations, never funded

    def capacity(self, per_cluster: np.ndarray) -> np.ndarray:
        """Whole-firm capacities whose expectation over clusters is ``per_cluster``.

        A scaled-down population gives fractional capacities (45 members x 0.01 = 0.45); each
        cluster rounds with its own fixed offset so that sizes stay steady from year to year
        and right on average.
        """
        return np.floor(per_cluster + self.offset)

    def add(self, name: str, region: int, sector: int, level: int, year: int, offset: float) -> int:
        """Admit a new cluster organisation at ``level`` from ``year`` on; return its index."""
        row = np.full((1, self.plan.shape[1]), INACTIVE, dtype=np.int8)
        row[0, year - self.first_year :] = level
        self.plan = np.vstack([self.plan, row])
        self.names.append(name)
        self.region = np.append(self.region, np.int16(region))
        self.sector = np.append(self.sector, np.int16(sector))
        self.offset = np.append(self.offset, offset)
        self.level = np.append(self.level, np.int8(INACTIVE))
        return len(self.names) - 1

    def set_from(self, k: int, year: int, level: int) -> None:
        """Plan cluster ``k`` at ``level`` (or ``INACTIVE``) from ``year`` to the end."""
        self.plan[k, year - self.first_year :] = level

    def years_at_level(self, k: int, year: int) -> int:
        """How many consecutive years up to ``year - 1`` cluster ``k`` held its level of ``year - 1``."""
        past = self.plan[k, : year - self.first_year][::-1]
        if len(past) == 0 or past[0] == INACTIVE:
            return 0
        changed = np.flatnonzero(past != past[0])
        return int(changed[0]) if len(changed) else len(past)

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
