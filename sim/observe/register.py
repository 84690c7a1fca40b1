"""The simulated register: what a statistics office would see each year.

Yearly aggregates, the per-cluster and the per-county tables are reported in full-scale units
(counts and sums divided by ``population.scale``) so that a 5 % classroom population still speaks
of Norway; the firm-year panel holds the simulated firms as they are. Cluster counts and programme
money are real units.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.engine import register as kernels
from sim.observe.columns import CLUSTER_COLUMNS, CLUSTER_YEARLY_COLUMNS, REGION_YEARLY_COLUMNS
from sim.scenario.params import LEVELS
from sim.submodels.programme import budget

if TYPE_CHECKING:
    from sim.model import ClusterModel

PANEL_DTYPES = {
    "firm_id": np.int32, "year": np.int16, "region": np.int16, "sector": np.int16,
    "member": np.bool_, "cluster_id": np.int32, "join_year": np.int16, "employees": np.float32,
    "revenue_nok": np.float32, "value_added_nok": np.float32, "innovated": np.bool_, "alive": np.bool_,
    "birth_year": np.int16, "ties": np.int16, "institution_tie": np.bool_,
}


GROWTH_VARIABLES = ("employees", "value_added_nok")  # members' and non-members' growth in yearly.csv


class Register:
    """Collects one yearly row, one row per active cluster and (optionally) the firm panel."""

    def __init__(self, keep_panel: bool = True):
        """Start an empty register.

        Args:
            keep_panel: Also keep the firm-year panel (large at full scale).
        """
        self.keep_panel = keep_panel
        self._yearly: list[dict[str, float]] = []
        self._clusters: list[dict[str, np.ndarray]] = []
        self._cluster_outcomes: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # _member_outcomes
        self._regions: list[tuple[int, np.ndarray]] = []  # _by_region
        self._scale = 1.0  # population.scale: the cluster and county tables are in full-scale units
        self._panel: dict[str, np.ndarray] = {}  # column -> buffer whose first _panel_rows rows are the panel
        self._panel_rows = 0
        self._previous: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def record(self, m: ClusterModel, closed: np.ndarray) -> None:
        """Record the year that just ended.

        Args:
            m: The model, after all phases of the year.
            closed: Rows of firms that closed this year (kept in the panel with ``alive`` false).
        """
        f, c, scale, lv = m.firms, m.clusters, m.spec.population.scale, m.instrument_events
        alive = f.alive_rows()
        funding = m.per_cluster("programme_funding_nok") * m.funding_factor
        share = m.per_cluster("programme_share")
        members = np.empty(len(c), dtype=np.int64)
        by_level = np.bincount(c.level.astype(np.int64) + 1, minlength=len(LEVELS) + 1)  # [inactive, levels...]
        n_members, employment, revenue, va, innovators, member_employment, with_institution = kernels.tally(
            alive, f.employees, f.revenue, f.va_share, f.member, f.innovated, f.institution, f.cluster, members)
        row = {
            "year": m.year,
            "firms": round(len(alive) / scale),
            "members": round(n_members / scale),
            "clusters": int(by_level[1:].sum()),
            **{f"clusters_{lv}": int(by_level[i + 1]) for i, lv in enumerate(LEVELS)},
            "employment": employment / scale,
            "revenue_nok": revenue / scale,
            "value_added_nok": va / scale,
            "innovations": round(innovators / scale),
            "ties": round(len(m.ties) / scale),
            "startups": round(m.startups / scale),
            "exits": round(len(closed) / scale),
            "programme_spend_nok": float(funding.sum()),
            "restructuring_jobs": lv.restructuring_jobs / scale,
            "restructuring_startups": round(lv.restructuring_startups / scale),
            "member_employment": member_employment / scale,
            "institution_ties": round(with_institution / scale),
            "programme_budget_nok": budget(m.spec, m.year) if m.spec.programme.enabled else 0.0,
            "applications": m.events.applications,
            "admissions": m.events.admissions,
            "upgrades": m.events.upgrades,
            "contract_ends": m.events.contract_ends,
            "evaluation_exits": m.events.evaluation_exits,
            "budget_exits": m.events.budget_exits,
            "restructuring_areas": lv.restructuring_areas,
            "corporate_networks": round(lv.corporate_networks / scale),
            "corporate_network_firms": round(lv.corporate_network_firms / scale),
            "green_consortia": round(lv.green_consortia / scale),
            "foreign_entrants": round(lv.foreign_entrants / scale),
            "lever_spend_nok": lv.spend_nok,
            **self._member_growth(m, alive),
        }
        self._yearly.append(row)
        active = np.flatnonzero(c.active)
        self._clusters.append({
            "cluster_id": active, "year": np.full(len(active), m.year), "level": c.level[active],
            "members": np.round(members[active] / scale).astype(np.int64),
            "budget_nok": funding[active] / share[active],
        })
        per_cluster, per_region = np.empty((5, len(c))), np.empty((4, len(m.region_names)))
        kernels.cluster_and_region_sums(alive, f.member, f.cluster, f.region, f.employees, f.revenue, f.va_share,
                                        f.innovated, f.institution, per_cluster, per_region)
        self._cluster_outcomes.append(self._member_outcomes(m, per_cluster, active))
        self._regions.append(self._by_region(m, per_region, closed))
        self._scale = scale
        if self.keep_panel:
            self._append_panel(self._snapshot(m, np.concatenate([alive, closed])),
                               years_left=m.spec.scenario.end_year - m.year + 1)

    def _member_growth(self, m: ClusterModel, alive: np.ndarray) -> dict[str, float]:
        """Mean yearly growth (%) of members and non-members alive in both years."""
        f = m.firms
        names = [f"growth_{who}_{var}_pct" for who in ("members", "nonmembers") for var in GROWTH_VARIABLES]
        previous = self._previous or (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))  # NaN the first year
        growth, employees, va = kernels.member_growth(*previous, alive, f.employees, f.revenue, f.va_share, f.member)
        self._previous = (alive, employees, va)
        return {name: 100.0 * float(g) for name, g in zip(names, growth)}

    @staticmethod
    def _member_outcomes(m: ClusterModel, per_cluster: np.ndarray,
                         active: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """Members' sums by active cluster this year, as simulated: :meth:`clusters_yearly` scales them.

        Returns:
            The year, the active clusters, their members' employment, value added, revenue,
            innovators and firms with an institution tie (rows of one array), and the ties their
            members hold and those inside the cluster.
        """
        f, n = m.firms, len(m.clusters)
        held, internal = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        kernels.ties_by_cluster(m.ties.a, m.ties.b, f.member, f.cluster, held, internal)
        return m.year, active, per_cluster[:, active], np.vstack([held[active], internal[active]])

    @staticmethod
    def _by_region(m: ClusterModel, per_region: np.ndarray, closed: np.ndarray) -> tuple[int, np.ndarray]:
        """Firms, members, man-years, value added, start-ups and exits by county this year, as simulated.

        Returns:
            The year and the six rows by county; :meth:`regions_yearly` scales them (one division for
            all years, where a dozen small operations a year were most of the register's time).
        """
        f, n = m.firms, len(m.region_names)
        # This year's start-ups are the last rows opened: every phase that opens firms adds to m.startups.
        startups = np.bincount(f.region[f.n - m.startups:f.n].astype(np.int64), minlength=n)
        exits = np.bincount(f.region[closed].astype(np.int64), minlength=n)
        return m.year, np.vstack([per_region, startups, exits])

    def _append_panel(self, year: dict[str, np.ndarray], years_left: int) -> None:
        """Write a year's panel rows after the earlier years', in column buffers made for the whole run.

        The panel is then one copy, not the yearly pieces and their concatenation: at full scale the
        second copy was a quarter of a gigabyte of fresh memory, seconds of page faults on a busy machine.
        """
        start, end = self._panel_rows, self._panel_rows + len(year["firm_id"])
        if end > len(self._panel.get("firm_id", ())):
            # Room for the years left at twice this year's rows (pages never written cost nothing), or double.
            capacity = max(end + 2 * (end - start) * max(years_left, 1), 2 * start)
            self._panel = {k: _grown(self._panel.get(k), start, capacity, dtype) for k, dtype in PANEL_DTYPES.items()}
        for k, values in year.items():
            self._panel[k][start:end] = values
        self._panel_rows = end

    @staticmethod
    def _snapshot(m: ClusterModel, rows: np.ndarray) -> dict[str, np.ndarray]:
        """A year's panel rows as the firm columns hold them: written into the buffers, they take PANEL_DTYPES."""
        f = m.firms
        rows = np.sort(rows)
        return {
            "firm_id": rows, "year": np.full(len(rows), m.year), "region": f.region[rows],
            "sector": f.sector[rows], "member": f.member[rows], "cluster_id": f.cluster[rows],
            "join_year": f.join_year[rows], "employees": f.employees[rows],
            "revenue_nok": f.revenue[rows], "value_added_nok": f.revenue[rows] * f.va_share[rows],
            "innovated": f.innovated[rows], "alive": f.alive[rows], "birth_year": f.birth_year[rows],
            # Collaboration ties of each firm and whether it has an R&D partner at a knowledge
            # institution: the collaboration gap around joining (sim/observe/collaboration_gap.py).
            "ties": np.minimum(m.ties.degree(f.n)[rows], np.iinfo(np.int16).max),
            "institution_tie": f.institution[rows] >= 0,
        }

    def yearly(self) -> pd.DataFrame:
        """One row per year (full-scale units)."""
        return pd.DataFrame(self._yearly)

    def clusters(self, m: ClusterModel) -> pd.DataFrame:
        """One row per active cluster organisation and year.

        Args:
            m: The model (for cluster names, regions and sectors).

        Returns:
            The cluster table of the contract.
        """
        if not self._clusters:
            return pd.DataFrame(columns=list(CLUSTER_COLUMNS))
        names = ("cluster_id", "year", "level", "members", "budget_nok")
        cols = {k: np.concatenate([y[k] for y in self._clusters]) for k in names}
        ids = cols["cluster_id"]
        c = m.clusters
        return pd.DataFrame({
            "cluster_id": ids,
            "name": np.array(c.names, dtype=object)[ids],
            "year": cols["year"],
            "region": np.array(m.region_names, dtype=object)[c.region[ids]],
            "sector": np.array(m.sector_names, dtype=object)[c.sector[ids]],
            "level": np.array(LEVELS, dtype=object)[cols["level"]],
            "members": cols["members"],
            "budget_nok": cols["budget_nok"],
        })

    def clusters_yearly(self, clusters: pd.DataFrame) -> pd.DataFrame:
        """Members' outcomes by active cluster and year (:data:`CLUSTER_YEARLY_COLUMNS`).

        Args:
            clusters: The cluster table (:meth:`clusters`), whose rows the outcomes were recorded with.

        Returns:
            One row per active cluster organisation and year, in full-scale units.
        """
        if not self._cluster_outcomes:
            return pd.DataFrame(columns=list(CLUSTER_YEARLY_COLUMNS))
        years, active, sums, ties = zip(*self._cluster_outcomes, strict=True)
        employment, value_added, revenue, innovators, with_institution = np.concatenate(sums, axis=1) / self._scale
        held, internal = np.concatenate(ties, axis=1) / self._scale
        recorded = {"cluster_id": np.concatenate(active), "year": np.repeat(years, [len(a) for a in active])}
        # Recorded each year beside the cluster table's rows: the same clusters in the same order.
        for key, values in recorded.items():
            if not np.array_equal(values, clusters[key].to_numpy()):
                raise ValueError(f"the cluster table's {key} column is not the register's")
        columns = {
            "member_employment": employment, "member_value_added_nok": value_added, "member_revenue_nok": revenue,
            **{name: np.round(count).astype(np.int64) for name, count in (
                ("member_innovations", innovators), ("member_ties", held), ("internal_ties", internal),
                ("institution_ties", with_institution))},
        }
        # One table made from its columns (assigning to a copy of the cluster table and picking the
        # columns copied it twice: a small run's largest table cost).
        return pd.DataFrame({k: columns[k] if k in columns else clusters[k] for k in CLUSTER_YEARLY_COLUMNS})

    def regions_yearly(self, region_names: list[str]) -> pd.DataFrame:
        """Firms by county and year (:data:`REGION_YEARLY_COLUMNS`).

        Args:
            region_names: Names for the region codes.

        Returns:
            One row per county and year, in full-scale units.
        """
        if not self._regions:
            return pd.DataFrame(columns=list(REGION_YEARLY_COLUMNS))
        years, rows = zip(*self._regions, strict=True)
        n = len(region_names)
        firms, members, employment, value_added, startups, exits = np.stack(rows, axis=1).reshape(6, -1) / self._scale
        return pd.DataFrame({
            "region": np.tile(np.array(region_names, dtype=object), len(years)), "year": np.repeat(years, n),
            "firms": np.round(firms).astype(np.int64), "members": np.round(members).astype(np.int64),
            "employment": employment, "value_added_nok": value_added,
            "startups": np.round(startups).astype(np.int64), "exits": np.round(exits).astype(np.int64),
        })[list(REGION_YEARLY_COLUMNS)]

    def firms(self, region_names: list[str], sector_names: list[str]) -> pd.DataFrame | None:
        """The firm-year panel, or None when it was not kept.

        Args:
            region_names: Names for the region codes.
            sector_names: Names for the sector codes.

        Returns:
            One row per firm and year, region and sector as categoricals.
        """
        if not self.keep_panel:
            return None
        # copy=False: the columns are views of the register's buffers, and pandas would copy them
        # into one block per dtype (1.4 s of a full-scale run).
        cols = {k: self._panel[k][: self._panel_rows] if self._panel else np.zeros(0, dtype)
                for k, dtype in PANEL_DTYPES.items()}
        df = pd.DataFrame(cols, copy=False)
        df["region"] = pd.Categorical.from_codes(df["region"], categories=region_names)
        df["sector"] = pd.Categorical.from_codes(df["sector"], categories=sector_names)
        return df


def _grown(buffer: np.ndarray | None, rows: int, capacity: int, dtype: type) -> np.ndarray:
    """A column buffer of ``capacity`` rows holding the first ``rows`` rows of ``buffer``."""
    grown = np.empty(capacity, dtype=dtype)
    if buffer is not None:
        grown[:rows] = buffer[:rows]
    return grown
