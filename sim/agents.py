"""The model's Mesa agents: firms, knowledge institutions and cluster organisations.

Firms and cluster organisations are views: their state lives in the model's column tables
(:class:`sim.world.firms.FirmTable`, :class:`sim.world.clusters.ClusterTable`) and each agent reads and
writes its own row, so ``model.agents_by_type[Firm].select(lambda f: f.member)`` works as in any
Mesa model while the yearly phases update all rows at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mesa

from sim.scenario.params import LEVELS

if TYPE_CHECKING:
    from sim.model import ClusterModel


def _column(name: str, doc: str, cast: type = float) -> property:
    """A property that reads and writes this firm's row of one column."""

    def get(self: Firm) -> Any:
        return cast(getattr(self.model.firms, name)[self.row])

    def set_(self: Firm, value: Any) -> None:
        getattr(self.model.firms, name)[self.row] = value

    return property(get, set_, doc=doc)


class Firm(mesa.Agent):
    """An employer enterprise; a view on one row of the firm table."""

    employees = _column("employees", "Man-years.")
    revenue = _column("revenue", "Sales, NOK per year.")
    productivity = _column("productivity", "Value added per man-year, NOK.")
    potential = _column("potential", "Latent growth potential, log points per year (unobserved by analysts).")
    rd_effort = _column("rd_effort", "Own R&D and innovation effort, 0-1.")
    member = _column("member", "Member of a cluster this year.", bool)
    cluster_id = _column("cluster", "Index of the cluster it belongs to, -1 if none.", int)
    join_year = _column("join_year", "Year it joined its current cluster, -1 if none.", int)
    innovated = _column("innovated", "Innovated this year.", bool)
    alive = _column("alive", "Open (not closed).", bool)

    def __init__(self, model: ClusterModel, row: int):
        """Create the view.

        Args:
            model: The model holding the firm table.
            row: This firm's row in the table (its ``firm_id``).
        """
        super().__init__(model)
        self.row = row

    @property
    def region(self) -> str:
        """County name."""
        return self.model.region_names[self.model.firms.region[self.row]]

    @property
    def sector(self) -> str:
        """Sector name."""
        return self.model.sector_names[self.model.firms.sector[self.row]]

    @property
    def value_added(self) -> float:
        """Value added, NOK per year."""
        return self.revenue * float(self.model.firms.va_share[self.row])

    @property
    def partners(self) -> list[int]:
        """Rows of the firms it has collaboration ties with."""
        ties = self.model.ties
        return [*ties.b[ties.a == self.row].tolist(), *ties.a[ties.b == self.row].tolist()]


class KnowledgeInstitution(mesa.Agent):
    """A university or research institute: a regional R&D partner for firms in its fields."""

    def __init__(self, model: ClusterModel, index: int, name: str, region: int, fields: list[int]):
        """Create the institution.

        Args:
            model: The model.
            index: Its number in firms' ``institution`` column.
            name: Its name.
            region: County index.
            fields: Sector indices it serves.
        """
        super().__init__(model)
        self.index, self.name, self.region_index, self.fields = index, name, region, fields

    @property
    def partners(self) -> int:
        """Number of open firms with an R&D tie to it."""
        f = self.model.firms
        return int(((f.institution[: f.n] == self.index) & f.alive[: f.n]).sum())


class ClusterOrganisation(mesa.Agent):
    """A cluster organisation; a view on one row of the cluster table."""

    def __init__(self, model: ClusterModel, index: int):
        """Create the view.

        Args:
            model: The model holding the cluster table.
            index: Its row in the cluster table (its ``cluster_id``).
        """
        super().__init__(model)
        self.index = index

    @property
    def name(self) -> str:
        """The cluster's name."""
        return self.model.clusters.names[self.index]

    @property
    def level(self) -> str | None:
        """Level this year (arena, arena_pro, nce, gce) or None outside the programme."""
        code = int(self.model.clusters.level[self.index])
        return LEVELS[code] if code >= 0 else None

    @property
    def members(self) -> int:
        """Number of member firms this year."""
        f = self.model.firms
        return int(((f.cluster[: f.n] == self.index) & f.member[: f.n]).sum())
