"""The programme's tables: its levels and their services, the cluster organisations, the budget and the operator."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from sim.scenario.limits import MAX_CLUSTERS, MAX_LIST, MAX_SECTORS, Name
from sim.scenario.params import Level, Section, param

_Year = Annotated[int, Field(ge=1990, le=2150)]


class LevelSpec(Section):
    """One programme level (``[levels.arena]`` ...): funding, services, recruitment, size and duration."""

    programme_funding_nok: float = param(
        2_200_000.0, "NOK per cluster-year",
        "Arena about 2.2 m, NCE about 5 m, Arena Pro 3 m base plus up to 3 m for projects (4.5 m taken); GCE "
        "not published, assumed twice NCE (docs/sources.md).",
        0.0, 1e9)
    programme_share: float = param(
        0.5, "1", "Programme pays up to 50 %; members 40 % hours and 10 % cash (docs/sources.md).", 0.01, 1.0)
    facilitation_ties: float = param(
        1.0, "tie attempts per member-year",
        "Matchmaking by the cluster organisation (cluster management as facilitator; docs/sources.md).", 0.0, 20.0)
    market_access_growth: float = param(
        0.02, "log points per member-year",
        "Profiling, internationalisation and market access (programme services; docs/sources.md). The "
        "baseline's values are fitted by `run.py calibrate` (calibration/calibrated.toml).",
        0.0, 0.5)
    advisory_innovation: float = param(
        0.02, "hazard per member-year",
        "Advisory services and business acceleration help members' innovation projects (programme services; "
        "docs/sources.md).",
        0.0, 5.0)
    recruits_per_year: float = param(
        10.0, "firms per cluster-year (full scale)", "Recruitment capacity of the cluster organisation.", 0.0,
        1000.0)
    max_members: float = param(
        50.0, "firms (full scale)",
        "Typical membership of the level (GCE Blue Maritime about 200, NODE about 50; docs/sources.md).", 0.0,
        10000.0)
    max_duration_years: int = param(
        5, "years", "Contract length: Arena 3-5, Arena Pro 5, NCE 10, GCE 10 (docs/sources.md).", 1, 50)
    max_clusters: int = param(
        30, "clusters", "Slots at the level: about 12-15 NCE and 3 GCE in 2014-2021 (docs/sources.md).", 0, 1000)
    available_from: int = param(
        2002, "year",
        "First year the programme offers the level: Arena early 2000s, NCE 2006, GCE 2014, Arena Pro 2019 "
        "(docs/sources.md).",
        1990, 2150)


def _level(**kw: float) -> LevelSpec:
    return LevelSpec(**kw)


class Levels(Section):
    """The ``[levels]`` table: the four programme levels."""

    arena: LevelSpec = Field(default_factory=lambda: _level(
        programme_funding_nok=2_200_000, advisory_innovation=0.02, facilitation_ties=1.0, market_access_growth=0.015,
        recruits_per_year=10, max_members=45, max_duration_years=5, available_from=2002, max_clusters=30))
    arena_pro: LevelSpec = Field(default_factory=lambda: _level(
        programme_funding_nok=4_500_000, advisory_innovation=0.025, facilitation_ties=1.2, market_access_growth=0.02,
        recruits_per_year=15, max_members=100, max_duration_years=5, available_from=2019, max_clusters=12))
    nce: LevelSpec = Field(default_factory=lambda: _level(
        programme_funding_nok=5_000_000, advisory_innovation=0.03, facilitation_ties=1.5, market_access_growth=0.025,
        recruits_per_year=15, max_members=80, max_duration_years=10, available_from=2006, max_clusters=14))
    gce: LevelSpec = Field(default_factory=lambda: _level(
        programme_funding_nok=10_000_000, advisory_innovation=0.04, facilitation_ties=2.0, market_access_growth=0.03,
        recruits_per_year=25, max_members=180, max_duration_years=10, available_from=2014, max_clusters=3))

    def get(self, level: str) -> LevelSpec:
        """Return the specification of one level by name."""
        return getattr(self, level)


class ClusterSpec(Section):
    """A cluster organisation and its history in the programme (data a programme operator drives)."""

    name: Name = Field(description="Name of the cluster organisation.")
    region: Name = Field(description="Home county: a key of [regions].")
    sector: Name = Field(description="Knowledge base: a key of [sectors].")
    levels: list[tuple[_Year, Level]] = Field(
        min_length=1, max_length=MAX_LIST, description="[[year, level], ...]: level from that year on.",
        json_schema_extra={"unit": "[year, level]", "source": "Programme history (docs/clusters.md; docs/sources.md)."})
    end_year: int | None = Field(
        None, ge=1990, le=2150, description="Last year in the programme (inclusive); none = still active.",
        json_schema_extra={"unit": "year", "source": "Programme history (docs/clusters.md; docs/sources.md)."})

    @model_validator(mode="after")
    def _history(self) -> ClusterSpec:
        years = [y for y, _ in self.levels]
        if years != sorted(years):
            raise ValueError("levels must be in increasing year order")
        if self.end_year is not None and self.end_year < years[0]:
            raise ValueError(f"end_year {self.end_year} is before the first level year {years[0]}")
        return self


class BudgetChange(Section):
    """One ``[[programme.budget_changes]]`` entry: the budget multiplied from a year on."""

    year: int = param(2022, "year", "First year of the new budget.", 1990, 2150)
    factor: float = param(
        0.7, "1 (multiplies the budget)",
        "2022: cut by about NOK 60 million, about 30 % (Innovation Norway annual report 2022; docs/sources.md).",
        0.0, 10.0)


class Programme(Section):
    """The programme operator: calls, scoring, admission, evaluation and upgrades after the replayed history."""

    enabled: bool = Field(True, description="False removes every cluster: the no-programme counterfactual.")
    history_until: int = param(
        2021, "year",
        "Up to this year clusters follow the [[clusters]] history; after it the operator runs the programme.", 1990,
        2150)
    budget_nok: float = param(
        189_000_000.0, "NOK per year", "2019 budget, NOK 189 million for 36 clusters (docs/sources.md).", 0.0, 1e11)
    budget_changes: list[BudgetChange] = Field(
        default_factory=list, max_length=MAX_LIST, description="Budget changes from a year on (e.g. the 2022 cut).")
    min_funding_share: float = param(
        0.75, "1 (share of level funding)",
        "After a cut the operator first pays each cluster less, down to this share, before ending clusters "
        "(2022: 44 -> 39 clusters after a 30 % cut; Innovation Norway annual report 2022, docs/sources.md).",
        0.0, 1.0)
    admissions_per_year: int = param(
        4, "clusters per year", "2015: 4 of 33 Arena applicants; 2021: 4 of 14 Arena Pro (docs/sources.md).", 0, 100)
    application_rate: float = param(
        0.7, "1 per eligible concentration-year",
        "Gives about 30 applications a year from the model's some 45 eligible county-sector concentrations (33 "
        "Arena applicants in 2015; docs/sources.md).",
        0.0, 1.0)
    min_firms: float = param(
        40.0, "firms (full scale)",
        "Critical mass of a cluster initiative (the programme's cluster definition; docs/sources.md).", 0.0,
        100000.0)
    min_location_quotient: float = param(
        1.0, "1",
        "Geographic concentration: the county's share of the sector over its share of all firms (docs/sources.md).",
        0.0, 100.0)
    weight_resources: float = param(
        1.0, "score per s.d.", "Call criterion: the cluster's resources (docs/sources.md).", 0.0, 10.0)
    weight_growth: float = param(
        1.0, "score per s.d.", "Call criterion: growth potential (docs/sources.md).", 0.0, 10.0)
    weight_position: float = param(
        1.0, "score per s.d.", "Call criterion: position in the industry (docs/sources.md).", 0.0, 10.0)
    weight_participation: float = param(
        1.0, "score per s.d.", "Call criterion: firms' participation and common ownership (docs/sources.md).", 0.0,
        10.0)
    weight_strategy: float = param(
        1.0, "score per s.d.",
        "Call criterion: strategy and implementation plan, unobserved by the model (a random draw).", 0.0, 10.0)
    evaluation_min_fill: float = param(
        0.25, "1 (share of the members it could have recruited)",
        "Annual evaluation ends clusters that fail to mobilise firms (poor delivery ends participation; "
        "docs/sources.md); judged against what its recruitment capacity allowed since it reached its level.",
        0.0, 1.0)
    evaluation_grace_years: int = param(2, "years", "Years at a level before the participation test applies.", 0, 50)
    excluded_sectors: list[Name] = Field(
        default_factory=lambda: ["other"], max_length=MAX_SECTORS,
        description="Sectors that cannot form a cluster initiative (the catch-all 'other' is no knowledge base).")
    added_clusters: list[ClusterSpec] = Field(
        default_factory=list, max_length=MAX_CLUSTERS,
        description="Clusters a what-if adds to the [[clusters]] history (e.g. a new cluster in Northern Norway).")
    upgrade_min_fill: float = param(
        0.6, "1 (members / level maximum)",
        "Clusters that mobilise well move up a level when their contract ends (Arena -> NCE -> GCE).", 0.0, 1.0)
