"""The scenario schema: every behavioural parameter with its unit, default, range and source.

A scenario file is TOML. It is validated once, here, at the edge; model code trusts its types.
Each parameter is declared with :func:`param`, which records a unit and a source (or the reason
for the value) next to the allowed range, so that ``python run.py validate --explain`` can print
a complete reference.
"""

from __future__ import annotations

from typing import Any

import tomli_w
from pydantic import Field, field_validator, model_validator

from sim.scenario.behaviour import Demography, Growth, Innovation, Membership, Network
from sim.scenario.economy import (
    NORWAY,
    KnowledgeInstitutionSpec,
    LabourMarket,
    Population,
    Region,
    Sector,
    SectorShock,
)
from sim.scenario.instruments import ClusterLink, CorporateNetworks, ForeignInvestment, GreenPlatform, Restructuring
from sim.scenario.levels import ClusterSpec, Levels, Programme
from sim.scenario.limits import (
    MAX_CHANGES,
    MAX_CLUSTERS,
    MAX_DESCRIPTION,
    MAX_FIRM_YEARS,
    MAX_FIRMS,
    MAX_LIST,
    MAX_REGIONS,
    MAX_SCENARIO_NAME,
    MAX_SECTORS,
    Name,
)
from sim.scenario.params import Section, param


class Meta(Section):
    """The ``[scenario]`` table: name, description, years and the base file a scenario extends."""

    name: str = Field(
        "scenario", pattern=r"^[A-Za-z0-9_.-]+$", max_length=MAX_SCENARIO_NAME,
        description="Identifier used in output paths (a folder name) and the results database (String(200));"
                    " not only dots.")
    description: str = Field("", max_length=MAX_DESCRIPTION, description="Free text for reports.")
    start_year: int = param(2000, "year", "First simulated year; the register starts in 2000.", 1990, 2100)
    end_year: int = param(2035, "year", "Last simulated year (inclusive).", 1990, 2150)
    extends: str | None = Field(
        None,
        description="Base scenario file this one changes (path relative to this file); merged when loaded, so a"
                    " resolved scenario never carries it.")

    @field_validator("name")
    @classmethod
    def _not_only_dots(cls, name: str) -> str:
        if not name.strip("."):
            raise ValueError("must not be made only of dots (it names a folder)")
        return name

    @model_validator(mode="after")
    def _ordered(self) -> Meta:
        if self.end_year < self.start_year:
            raise ValueError(f"end_year ({self.end_year}) must not be before start_year ({self.start_year})")
        return self


# Tables a policy change may touch during a run; the rest (population, geography, the history)
# shapes the world at the start and cannot change mid-run.
CHANGEABLE = ("membership", "network", "innovation", "growth", "demography", "levels", "programme",
              "restructuring", "corporate_networks", "green_platform", "foreign_investment")


# Keys in those tables that set up the world at the start (the cluster table and its plan).
FIXED_AT_START = ("programme.enabled", "programme.history_until", "programme.added_clusters")


class PolicyChange(Section):
    """Values that change from a year on, e.g. ``{ "restructuring.areas_per_year" = 7.4 }``."""

    year: int = param(2022, "year", "First year the new values hold.", 1990, 2150)
    set: dict[str, Any] = Field(max_length=MAX_LIST, description="Dotted keys (as for --set) and their new values.",
                                json_schema_extra={"unit": "-", "source": "The what-if being asked."})


class Output(Section):
    """The ``[output]`` table: which files a run writes."""

    firm_panel: bool = Field(True, description="Write firms.parquet (the firm-year panel).")
    plots: bool = Field(True, description="Write PNG plots.")


_SSB = "Economics Norway and Statistics Norway, as reported by Innovation Norway; docs/sources.md"


class Measurement(Section):
    """The membership effect as Statistics Norway measured it, and the truth from a twin world."""

    effects: bool = Field(True, description="Estimate the membership effect after the run (effects.csv).")
    twin: bool = Field(
        True,
        description="Also run the untreated twin world in lockstep for the true effect (about doubles run time).")
    first_cohort: int = param(
        2003, "year", "Earliest joining year measured; needs two pre-entry years in the register.", 1990, 2150)
    last_cohort: int = param(
        2018, "year",
        "Latest joining year measured: its three-year window ends in 2020, the latest register year a report of "
        f"2021 could use ({_SSB}).",
        1990, 2150)
    window_years: int = param(
        3, "years", f"Average yearly growth over the first three years of membership ({_SSB}).", 1, 10)
    max_years_since: int = param(5, "years", "Years since joining in the by-year table.", 1, 15)
    neighbours: int = param(
        5, "controls per member",
        "Nearest-neighbour propensity-score matching with replacement (Abadie & Imbens 2006 use 4).", 1, 50)
    caliper_sd: float = param(
        0.2, "s.d. of the logit of the propensity score", "Austin (2011): 0.2 s.d. of the logit removes most bias.",
        0.001, 10.0)
    controls_per_treated: float = param(
        50.0, "firms",
        "Non-members sampled per member and cohort-sector cell as the control pool (Statistics Norway drew a "
        "representative selection of non-members).",
        1.0, 10000.0)
    winsorize: float = param(
        0.01, "1 (share in each tail)",
        "Yearly growth rates are winsorised at these quantiles so that a few tiny firms do not dominate means.", 0.0,
        0.25)
    bootstrap: int = param(
        200, "resamples", "Pairs bootstrap over members (each with its matched controls) for 95 % intervals.", 0,
        100000)

    @model_validator(mode="after")
    def _cohorts_ordered(self) -> Measurement:
        if self.last_cohort < self.first_cohort:
            raise ValueError(f"last_cohort ({self.last_cohort}) must not be before first_cohort ({self.first_cohort})")
        if self.max_years_since < self.window_years:
            # Controls must stay out of the clusters for the whole window they are compared over.
            raise ValueError(
                f"max_years_since ({self.max_years_since}) must be at least window_years ({self.window_years})")
        return self


class Scenario(Section):
    """A complete, validated scenario."""

    scenario: Meta = Field(default_factory=Meta)
    population: Population = Field(default_factory=Population)
    regions: dict[Name, Region] = Field(
        default_factory=lambda: {k: Region(**v) for k, v in NORWAY["regions"].items()}, max_length=MAX_REGIONS)
    sectors: dict[Name, Sector] = Field(
        default_factory=lambda: {k: Sector(**v) for k, v in NORWAY["sectors"].items()}, max_length=MAX_SECTORS)
    knowledge_institutions: list[KnowledgeInstitutionSpec] = Field(
        default_factory=lambda: [KnowledgeInstitutionSpec(**k) for k in NORWAY["knowledge_institutions"]],
        max_length=MAX_LIST)
    membership: Membership = Field(default_factory=Membership)
    network: Network = Field(default_factory=Network)
    innovation: Innovation = Field(default_factory=Innovation)
    growth: Growth = Field(default_factory=Growth)
    demography: Demography = Field(default_factory=Demography)
    labour: LabourMarket = Field(default_factory=LabourMarket)
    levels: Levels = Field(default_factory=Levels)
    programme: Programme = Field(default_factory=Programme)
    restructuring: Restructuring = Field(default_factory=Restructuring)
    corporate_networks: CorporateNetworks = Field(default_factory=CorporateNetworks)
    green_platform: GreenPlatform = Field(default_factory=GreenPlatform)
    cluster_links: list[ClusterLink] = Field(default_factory=list, max_length=MAX_LIST)
    foreign_investment: ForeignInvestment = Field(default_factory=ForeignInvestment)
    clusters: list[ClusterSpec] = Field(default_factory=list, max_length=MAX_CLUSTERS)
    shocks: list[SectorShock] = Field(default_factory=list, max_length=MAX_LIST)
    changes: list[PolicyChange] = Field(
        default_factory=list, max_length=MAX_CHANGES,
        description="Policy changes from a year on, applied in year order.")
    output: Output = Field(default_factory=Output)
    measurement: Measurement = Field(default_factory=Measurement)

    @property
    def all_clusters(self) -> list[ClusterSpec]:
        """The historical clusters followed by those a what-if adds."""
        return [*self.clusters, *self.programme.added_clusters]

    def to_toml(self) -> str:
        """The complete resolved scenario (defaults included) as TOML text."""
        return tomli_w.dumps(_drop_none(self.model_dump(mode="json")))

    @model_validator(mode="after")
    def _size(self) -> Scenario:
        """The firms simulated must exist and fit in memory (limits and measurements: sim/scenario/limits.py)."""
        scale, years = self.population.scale, self.scenario.end_year - self.scenario.start_year + 1
        firms = round(sum(self.population.size_classes.values()) * scale)
        key = "population.size_classes"
        if firms < 1:
            raise ReferenceError_(key, f"gives no firm at population.scale {scale:g}; the counts x scale must"
                                       " be at least 1")
        if firms > MAX_FIRMS:
            raise ReferenceError_(key, f"gives {firms:,} simulated firms at population.scale {scale:g}, at most "
                                       f"{MAX_FIRMS:,} (memory); lower the counts or the scale")
        if firms * years > MAX_FIRM_YEARS:
            raise ReferenceError_(key, f"gives {firms:,} simulated firms over {years} years, {firms * years:,}"
                                       f" firm-years, at most {MAX_FIRM_YEARS:,} (about 240 bytes each);"
                                       " lower the counts, the scale or the years")
        for table, entries in (("regions", self.regions), ("sectors", self.sectors)):
            if not any(entry.enterprise_share > 0 for entry in entries.values()):
                raise ReferenceError_(table, "enterprise_share must be above 0 for at least one entry")
        return self

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        listed = (("clusters", self.clusters), ("programme.added_clusters", self.programme.added_clusters))
        for where, clusters in listed:
            for i, c in enumerate(clusters):
                _known(f"{where}.{i}.region", c.region, self.regions)
                _known(f"{where}.{i}.sector", c.sector, self.sectors)
        for i, k in enumerate(self.knowledge_institutions):
            _known(f"knowledge_institutions.{i}.region", k.region, self.regions)
            for j, f in enumerate(k.fields):
                _known(f"knowledge_institutions.{i}.fields.{j}", f, self.sectors)
        for i, s in enumerate(self.shocks):
            _known(f"shocks.{i}.sector", s.sector, self.sectors)
        for i, s in enumerate(self.green_platform.sectors):
            _known(f"green_platform.sectors.{i}", s, self.sectors)
        names = {c.name: c for c in self.all_clusters}
        for i, link in enumerate(self.cluster_links):
            for j, name in enumerate(link.clusters):
                _known(f"cluster_links.{i}.clusters.{j}", name, names)
        for i, s in enumerate(self.programme.excluded_sectors):
            _known(f"programme.excluded_sectors.{i}", s, self.sectors)
        for name, s in self.sectors.items():
            for r in s.location_weights:
                _known(f"sectors.{name}.location_weights.{r}", r, self.regions)
        return self


class ReferenceError_(ValueError):
    """A problem found across tables (a name that refers to nothing, a size too large); carries the key path."""

    def __init__(self, loc: str, msg: str):
        super().__init__(msg)
        self.loc = loc


def _drop_none(value: Any) -> Any:
    # TOML has no null: an unset optional key is simply absent.
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _known(loc: str, name: str, table: dict[str, Any]) -> None:
    if name not in table:
        raise ReferenceError_(loc, f"unknown name '{name}'; allowed: {', '.join(sorted(table))}")
