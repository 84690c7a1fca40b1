"""The scenario schema: every behavioural parameter with its unit, default, range and source.

A scenario file is TOML. It is validated once, here, at the edge; model code trusts its types.
Each parameter is declared with :func:`param`, which records a unit and a source (or the reason
for the value) next to the allowed range, so that ``python run.py validate --explain`` can print
a complete reference.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LEVELS = ("arena", "arena_pro", "nce", "gce")
Level = Literal["arena", "arena_pro", "nce", "gce"]


def param(default: Any, unit: str, source: str, ge: float | None = None, le: float | None = None):
    """Declare a scenario parameter.

    Args:
        default: Value used when the scenario file does not set it.
        unit: Unit of measurement ("1" for dimensionless, "NOK", "per year", ...).
        source: Where the value comes from, or why it was chosen.
        ge: Smallest allowed value, if bounded.
        le: Largest allowed value, if bounded.

    Returns:
        A pydantic ``Field`` carrying unit and source as schema metadata.
    """
    return Field(default, ge=ge, le=le, json_schema_extra={"unit": unit, "source": source})


class Section(BaseModel):
    """Base for every table in a scenario file: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


def _norway() -> dict[str, Any]:
    text = resources.files("sim.scenario").joinpath("data/norway.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


_NORWAY = _norway()
_DATA = "sim/scenario/data/norway.toml (see its header for sources)"


class Meta(Section):
    name: str = Field("scenario", pattern=r"^[A-Za-z0-9_.-]+$", description="Identifier used in output paths.")
    description: str = Field("", description="Free text for reports.")
    start_year: int = param(2000, "year", "First simulated year; the register starts in 2000.", 1990, 2100)
    end_year: int = param(2035, "year", "Last simulated year (inclusive).", 1990, 2150)
    extends: str | None = Field(None, description="Base scenario file this one changes (path relative to this file); merged when loaded, so a resolved scenario never carries it.")

    @model_validator(mode="after")
    def _ordered(self) -> Meta:
        if self.end_year < self.start_year:
            raise ValueError(f"end_year ({self.end_year}) must not be before start_year ({self.start_year})")
        return self


class Region(Section):
    lat: float = param(60.0, "degrees north", _DATA, 57.0, 72.0)
    lon: float = param(10.0, "degrees east", _DATA, 4.0, 32.0)
    enterprise_share: float = param(0.09, "1", _DATA, 0.0, 1.0)


class Sector(Section):
    enterprise_share: float = param(0.05, "1", _DATA, 0.0, 1.0)
    value_added_per_man_year_nok: float = param(900_000.0, "NOK per man-year", _DATA, 1e4, 1e8)
    value_added_share: float = param(0.35, "1 (value added / revenue)", _DATA, 0.01, 1.0)
    demand_growth: float = param(0.02, "log points per year", _DATA, -0.5, 0.5)
    knowledge_x: float = param(0.5, "knowledge-space units", _DATA, 0.0, 1.0)
    knowledge_y: float = param(0.5, "knowledge-space units", _DATA, 0.0, 1.0)
    location_weights: dict[str, float] = Field(
        default_factory=dict, description="County -> location quotient.",
        json_schema_extra={"unit": "1 (location quotient)", "source": _DATA})


class KnowledgeInstitutionSpec(Section):
    name: str = Field(description="Name of the university or institute.")
    region: str = Field(description="Home county: a key of [regions].")
    fields: list[str] = Field(min_length=1, description="Knowledge bases it serves: keys of [sectors].")


class Population(Section):
    scale: float = param(1.0, "1 (share of the real population)", "1 = full-scale Norway; 0.05 for class use.", 1e-4, 1.0)
    size_classes: dict[str, int] = Field(
        default_factory=lambda: {
            "1-4": 243_829, "5-9": 30_803, "10-19": 17_781, "20-49": 9_861,
            "50-99": 2_485, "100-249": 1_385, "250+": 734,
        },
        description="Employer enterprises by employees, 2017 (SSB; docs/sources.md). Keys 'lo-hi' or 'lo+'.",
        json_schema_extra={"unit": "enterprises (full scale)",
                           "source": "Statistics Norway, employer enterprises by size class, 2017 (docs/sources.md)."},
    )
    top_class_pareto_alpha: float = param(1.3, "1", "Tail of Norway's largest enterprises (Pareto fit to SSB 250+ class; Axtell 2001 finds about 1).", 0.5, 5.0)
    max_employees: int = param(20_000, "man-years", "Equinor-sized upper bound on one enterprise.", 250, 200_000)
    productivity_sd: float = param(0.45, "log points", "Within-sector dispersion of labour productivity (Syverson 2011: 90/10 ratio about 2-4).", 0.0, 2.0)
    knowledge_sd: float = param(0.08, "knowledge-space units", "Spread of firms around their sector's knowledge position; chosen so sectors overlap a little.", 0.0, 0.5)
    growth_potential_sd: float = param(0.04, "log points per year", "Latent, unobserved growth potential (drives joining and growth; the source of selection bias). The baseline's value is fitted by `run.py calibrate` (calibration/calibrated.toml).", 0.0, 0.5)
    rd_effort_mean: float = param(0.15, "1 (share of firms' effort)", "Mean own R&D and innovation effort; Norway's CIS innovation-active share is about 0.3.", 0.0, 1.0)
    beta_concentration: float = param(4.0, "1 (alpha + beta)", "Spread of R&D effort and export intensity around a firm's mean; most firms near zero with a long tail, as in R&D surveys.", 0.5, 100.0)
    rd_size_elasticity: float = param(0.4, "log-odds per log man-year", "CIS (SSB innovation survey): innovation-active share about 0.3 at 10-49 vs 0.65 at 250+ employees.", 0.0, 3.0)
    rd_science_weight: float = param(2.0, "log-odds per unit knowledge_y", "CIS by industry: ICT/pharma about 0.6 vs accommodation about 0.2 innovation-active.", 0.0, 10.0)
    export_size_elasticity: float = param(0.5, "log-odds per log man-year", "SSB trade by enterprise characteristics: exporter share about 0.15 small vs 0.6-0.7 at 250+.", 0.0, 3.0)
    absorptive_size_weight: float = param(0.5, "log-odds per log man-year", "Absorptive capacity grows with scale (Cohen & Levinthal 1990); micro firms near 0.4.", 0.0, 5.0)
    absorptive_rd_weight: float = param(4.0, "log-odds per unit R&D effort", "Absorptive capacity is a by-product of own R&D (Cohen & Levinthal 1990).", 0.0, 20.0)
    age_mean_years: float = param(11.0, "years", "Mean age of a one-man-year employer enterprise: steady state of the about 9 % yearly exit hazard (SSB business demography).", 0.5, 100.0)
    age_size_elasticity: float = param(0.15, "1", "Mean age ~ man-years^e: 500-man-year firms about 2.5x as old (about 28 years).", 0.0, 1.0)
    international_share: float = param(0.25, "1", "Share of enterprises with export activity (SSB), scales international orientation.", 0.0, 1.0)


    @field_validator("size_classes")
    @classmethod
    def _size_class_keys(cls, classes: dict[str, int]) -> dict[str, int]:
        if not classes:
            raise ValueError("needs at least one size class")
        for key, count in classes.items():
            lo, sep, hi = key.partition("-")
            bounded = sep and lo.isdigit() and hi.isdigit() and 1 <= int(lo) <= int(hi)
            open_top = key.endswith("+") and key[:-1].isdigit() and int(key[:-1]) >= 1
            if not (bounded or open_top):
                raise ValueError(f"size class '{key}' must look like '5-9' or '250+' with sizes >= 1")
            if count < 0:
                raise ValueError(f"size class '{key}' has a negative count")
        return classes


class Membership(Section):
    base_utility: float = param(-2.0, "utils", "Intercept of the joining decision; calibrated so members reach about 2000 in 2021 (Innovation Norway annual report 2021; docs/sources.md).", -20.0, 20.0)
    potential_weight: float = param(25.0, "utils per log point of yearly growth potential", "Firms expecting to grow seek partners more (selection on the unobservable, which the published comparison cannot see; docs/sources.md). The baseline's value is fitted by `run.py calibrate` (calibration/calibrated.toml).", -500.0, 500.0)
    size_weight: float = param(0.4, "utils per log man-year", "Larger firms join more often (programme evaluations).", -5.0, 5.0)
    international_weight: float = param(1.0, "utils per unit international orientation", "Exporters value the clusters' internationalisation and profiling services (programme goals; docs/sources.md).", -10.0, 10.0)
    rd_weight: float = param(2.0, "utils per unit R&D effort", "Innovating firms value knowledge access (programme goal: innovation capacity through R&D collaboration; docs/sources.md).", -10.0, 10.0)
    benefit_weight: float = param(20.0, "utils per log point of expected growth", "Expected benefit of the level's services enters the choice (model assumption; docs/ODD.md).", 0.0, 200.0)
    hours_per_member: float = param(100.0, "hours per year", "Members co-finance about 40 % of a cluster in hours (programme co-financing; docs/sources.md).", 0.0, 5000.0)
    cash_share: float = param(0.1, "1 (share of the cluster budget)", "Members pay about 10 % of a cluster's budget in cash, split over its members (programme co-financing; docs/sources.md).", 0.0, 1.0)
    hourly_cost_nok: float = param(800.0, "NOK per hour", "Average Norwegian labour cost incl. social charges (SSB), rounded.", 0.0, 10000.0)
    cost_weight: float = param(30.0, "utils per (cost / value added)", "Hours and fees weigh against the firm's value added.", 0.0, 1000.0)
    distance_weight: float = param(1.5, "utils per 100 km", "Clusters recruit around a geographical hub (programme description; docs/sources.md).", 0.0, 20.0)
    leave_rate: float = param(0.08, "per year", "Member churn; keeps cluster sizes steady (programme reports).", 0.0, 1.0)
    choice_noise: float = param(1.0, "utils (Gumbel scale)", "Unobserved taste in the discrete choice (logit).", 0.01, 10.0)


class Network(Section):
    tie_attempts: float = param(0.5, "attempts per firm-year", "Baseline search for partners; gives mean degree near 2 (Norwegian CIS: about 1/3 of innovative firms cooperate).", 0.0, 20.0)
    local_share: float = param(0.7, "1", "Share of partner searches inside the home county (geographic proximity; Boschma 2005).", 0.0, 1.0)
    geo_scale_km: float = param(150.0, "km", "Distance at which acceptance falls by 1/e.", 1.0, 5000.0)
    cognitive_scale: float = param(0.25, "knowledge-space units", "Cognitive distance at which acceptance falls by 1/e (Nooteboom 2000).", 0.01, 5.0)
    decay_rate: float = param(0.2, "per year", "Share of ties that lapse each year (typical project length about 5 years).", 0.0, 1.0)
    shared_member_retention: float = param(0.5, "1", "Lower decay when both partners share a cluster (shared membership).", 0.0, 1.0)
    institution_tie_rate: float = param(0.15, "per firm-year at full R&D effort", "Firms with R&D effort seek a knowledge-institution partner.", 0.0, 5.0)
    member_institution_boost: float = param(1.0, "1", "Cluster organisations broker R&D projects with institutions (NCEs work closely with R&D institutions; docs/sources.md).", 0.0, 20.0)
    institution_decay_rate: float = param(0.25, "per year", "R&D projects with institutions end after about 4 years.", 0.0, 1.0)


class Innovation(Section):
    base_rate: float = param(0.05, "hazard per year", "Innovation without effort or partners (CIS: about 1/3 innovate over 3 years).", 0.0, 5.0)
    rd_weight: float = param(0.5, "hazard per unit R&D effort", "Own effort (CIS).", 0.0, 10.0)
    spillover_weight: float = param(0.08, "hazard per unit of novel knowledge", "Knowledge flowing over ties (Jaffe 1986; docs/sources.md).", 0.0, 10.0)
    institution_weight: float = param(0.15, "hazard", "An R&D tie to a university or institute (docs/sources.md).", 0.0, 10.0)
    optimal_distance: float = param(0.15, "knowledge-space units", "Cognitive distance where partners teach the most (inverted U; Nooteboom et al. 2007).", 0.01, 2.0)
    convergence_rate: float = param(0.15, "1 (share of the gap to partners' mean closed per year)", "Partners' knowledge converges, so novelty falls and effects peak early (Innovation Norway annual report 2021; docs/sources.md).", 0.0, 1.0)
    drift_sd: float = param(0.01, "knowledge-space units per year", "Firms' own search keeps knowledge diverse.", 0.0, 0.5)
    productivity_gain: float = param(0.05, "log points (one man-year firm)", "Productivity step of an innovation. The baseline's value is fitted by `run.py calibrate` (calibration/calibrated.toml).", 0.0, 1.0)
    demand_gain: float = param(0.06, "log points (one man-year firm)", "Sales step of an innovation (new products).", 0.0, 1.0)
    size_elasticity: float = param(0.2, "1", "An innovation is a smaller share of a large firm's sales: steps scale as size^-e, like growth volatility (Stanley et al. 1996).", 0.0, 1.0)


class Growth(Section):
    shock_sd: float = param(0.25, "log points per year (one man-year firm)", "Idiosyncratic sales shocks, Laplace-distributed as firm growth rates are (Bottazzi & Secchi 2006).", 0.0, 2.0)
    shock_size_elasticity: float = param(0.2, "1", "Growth volatility falls with size, sd ~ size^-0.2 (Stanley et al. 1996).", 0.0, 1.0)
    potential_persistence: float = param(0.85, "1 (AR(1) coefficient per year)", "Growth opportunities fade; firm growth shows weak persistence (Coad 2007).", 0.0, 1.0)
    potential_size_elasticity: float = param(0.2, "1", "Growth opportunities shrink with size as growth volatility does (Stanley et al. 1996): a firm's expected extra growth is its potential times man-years^-e, so no firm outgrows the economy.", 0.0, 1.0)
    market_access_fade: float = param(0.3, "per year of membership", "The profiling and market-access service opens a member's new markets mostly in its first years (members develop most in their first three years: Innovation Norway annual report 2021; docs/sources.md): its push is market_access_growth x exp(-fade x years since joining).", 0.0, 5.0)
    productivity_trend: float = param(0.012, "log points per year", "Norway's mainland labour-productivity growth, about 1.2 % a year (SSB).", -0.2, 0.2)
    productivity_noise_sd: float = param(0.03, "log points per year", "Idiosyncratic productivity changes.", 0.0, 1.0)
    hire_rate: float = param(0.5, "1 per year", "Share of a labour shortfall closed in a year (hiring frictions). The baseline's value is fitted by `run.py calibrate` (calibration/calibrated.toml).", 0.0, 1.0)
    fire_rate: float = param(0.3, "1 per year", "Share of a labour surplus shed in a year (firing costs; Norway's employment protection).", 0.0, 1.0)
    min_employees: float = param(0.5, "man-years", "Below this an employer enterprise closes.", 0.0, 10.0)


class Demography(Section):
    exit_rate: float = param(0.09, "per year for a one-man-year firm", "Exit of small employer enterprises, about 9 % (SSB business demography).", 0.0, 1.0)
    exit_size_elasticity: float = param(0.35, "1", "Exit falls with size (hazard ~ size^-e).", 0.0, 3.0)
    exit_growth_sensitivity: float = param(2.0, "per log point of sales growth", "Shrinking firms close more often.", 0.0, 20.0)
    entry_rate: float = param(0.075, "start-ups per alive firm-year", "New employer enterprises about 7-8 % of the stock (SSB).", 0.0, 1.0)
    cluster_entry_boost: float = param(0.3, "1", "Extra start-ups in a county-sector with an active cluster (entrepreneurship environment, a programme goal; docs/sources.md).", 0.0, 10.0)
    spinoff_rate: float = param(0.02, "per innovation", "Innovations that become a new firm.", 0.0, 1.0)
    spinoff_member_boost: float = param(1.0, "1", "Members spin off more (acceleration programmes; docs/sources.md).", 0.0, 20.0)


class LevelSpec(Section):
    programme_funding_nok: float = param(2_200_000.0, "NOK per cluster-year", "Arena about 2.2 m, NCE about 5 m, Arena Pro 3 m base plus up to 3 m for projects (4.5 m taken); GCE not published, assumed twice NCE (docs/sources.md).", 0.0, 1e9)
    programme_share: float = param(0.5, "1", "Programme pays up to 50 %; members 40 % hours and 10 % cash (docs/sources.md).", 0.01, 1.0)
    facilitation_ties: float = param(1.0, "tie attempts per member-year", "Matchmaking by the cluster organisation (cluster management as facilitator; docs/sources.md).", 0.0, 20.0)
    market_access_growth: float = param(0.02, "log points per member-year", "Profiling, internationalisation and market access (programme services; docs/sources.md). The baseline's values are fitted by `run.py calibrate` (calibration/calibrated.toml).", 0.0, 0.5)
    advisory_innovation: float = param(0.02, "hazard per member-year", "Advisory services and business acceleration help members' innovation projects (programme services; docs/sources.md).", 0.0, 5.0)
    recruits_per_year: float = param(10.0, "firms per cluster-year (full scale)", "Recruitment capacity of the cluster organisation.", 0.0, 1000.0)
    max_members: float = param(50.0, "firms (full scale)", "Typical membership of the level (GCE Blue Maritime about 200, NODE about 50; docs/sources.md).", 0.0, 10000.0)
    max_duration_years: int = param(5, "years", "Contract length: Arena 3-5, Arena Pro 5, NCE 10, GCE 10 (docs/sources.md).", 1, 50)
    max_clusters: int = param(30, "clusters", "Slots at the level: about 12-15 NCE and 3 GCE in 2014-2021 (docs/sources.md).", 0, 1000)
    available_from: int = param(2002, "year", "First year the programme offers the level: Arena early 2000s, NCE 2006, GCE 2014, Arena Pro 2019 (docs/sources.md).", 1990, 2150)


def _level(**kw: float) -> LevelSpec:
    return LevelSpec(**kw)


class Levels(Section):
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

    name: str = Field(min_length=1, description="Name of the cluster organisation.")
    region: str = Field(description="Home county: a key of [regions].")
    sector: str = Field(description="Knowledge base: a key of [sectors].")
    levels: list[tuple[int, Level]] = Field(
        min_length=1, description="[[year, level], ...]: level from that year on.",
        json_schema_extra={"unit": "[year, level]", "source": "Programme history (docs/clusters.md; docs/sources.md)."})
    end_year: int | None = Field(
        None, description="Last year in the programme (inclusive); none = still active.",
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
    year: int = param(2022, "year", "First year of the new budget.", 1990, 2150)
    factor: float = param(0.7, "1 (multiplies the budget)", "2022: cut by about NOK 60 million, about 30 % (Innovation Norway annual report 2022; docs/sources.md).", 0.0, 10.0)


class Programme(Section):
    """The programme operator: calls, scoring, admission, evaluation and upgrades after the replayed history."""

    enabled: bool = Field(True, description="False removes every cluster: the no-programme counterfactual.")
    history_until: int = param(2021, "year", "Up to this year clusters follow the [[clusters]] history; after it the operator runs the programme.", 1990, 2150)
    budget_nok: float = param(189_000_000.0, "NOK per year", "2019 budget, NOK 189 million for 36 clusters (docs/sources.md).", 0.0, 1e11)
    budget_changes: list[BudgetChange] = Field(default_factory=list, description="Budget changes from a year on (e.g. the 2022 cut).")
    min_funding_share: float = param(0.75, "1 (share of level funding)", "After a cut the operator first pays each cluster less, down to this share, before ending clusters (2022: 44 -> 39 clusters after a 30 % cut; Innovation Norway annual report 2022, docs/sources.md).", 0.0, 1.0)
    admissions_per_year: int = param(4, "clusters per year", "2015: 4 of 33 Arena applicants; 2021: 4 of 14 Arena Pro (docs/sources.md).", 0, 100)
    application_rate: float = param(0.7, "1 per eligible concentration-year", "Gives about 30 applications a year from the model's some 45 eligible county-sector concentrations (33 Arena applicants in 2015; docs/sources.md).", 0.0, 1.0)
    min_firms: float = param(40.0, "firms (full scale)", "Critical mass of a cluster initiative (the programme's cluster definition; docs/sources.md).", 0.0, 100000.0)
    min_location_quotient: float = param(1.0, "1", "Geographic concentration: the county's share of the sector over its share of all firms (docs/sources.md).", 0.0, 100.0)
    weight_resources: float = param(1.0, "score per s.d.", "Call criterion: the cluster's resources (docs/sources.md).", 0.0, 10.0)
    weight_growth: float = param(1.0, "score per s.d.", "Call criterion: growth potential (docs/sources.md).", 0.0, 10.0)
    weight_position: float = param(1.0, "score per s.d.", "Call criterion: position in the industry (docs/sources.md).", 0.0, 10.0)
    weight_participation: float = param(1.0, "score per s.d.", "Call criterion: firms' participation and common ownership (docs/sources.md).", 0.0, 10.0)
    weight_strategy: float = param(1.0, "score per s.d.", "Call criterion: strategy and implementation plan, unobserved by the model (a random draw).", 0.0, 10.0)
    evaluation_min_fill: float = param(0.25, "1 (share of the members it could have recruited)", "Annual evaluation ends clusters that fail to mobilise firms (poor delivery ends participation; docs/sources.md); judged against what its recruitment capacity allowed since it reached its level.", 0.0, 1.0)
    evaluation_grace_years: int = param(2, "years", "Years at a level before the participation test applies.", 0, 50)
    excluded_sectors: list[str] = Field(default_factory=lambda: ["other"], description="Sectors that cannot form a cluster initiative (the catch-all 'other' is no knowledge base).")
    added_clusters: list[ClusterSpec] = Field(default_factory=list, description="Clusters a what-if adds to the [[clusters]] history (e.g. a new cluster in Northern Norway).")
    upgrade_min_fill: float = param(0.6, "1 (members / level maximum)", "Clusters that mobilise well move up a level when their contract ends (Arena -> NCE -> GCE).", 0.0, 1.0)


class Restructuring(Section):
    """Regional restructuring: areas with a vulnerable industry structure get a period of support."""

    enabled: bool = Field(True, description="Switch the lever on or off.")
    from_year: int = param(2000, "year", "The restructuring programme predates the cluster programme (regional policy since the 1980s).", 1990, 2150)
    areas_per_year: float = param(3.7, "areas per year", "About 22 areas followed up in 2021 with six-year periods (Innovation Norway annual report 2021; docs/sources.md): 22 / 6.", 0.0, 100.0)
    period_years: int = param(6, "years", "Areas keep their status up to six years (docs/sources.md).", 1, 30)
    area_firm_share: float = param(0.03, "1 (share of the county's firms)", "A municipality or group of municipalities inside a county.", 0.0, 1.0)
    vulnerability_weight: float = param(20.0, "1 per log point of county job growth", "Areas are chosen where jobs have been shrinking (a vulnerable industry structure; docs/sources.md).", 0.0, 1000.0)
    lookback_years: int = param(3, "years", "Window of county job growth used to judge vulnerability.", 1, 20)
    budget_nok_per_area: float = param(4_000_000.0, "NOK per area-year", "Typical yearly restructuring budget of a municipality (assumption; programme reports give NOK 2-6 million).", 0.0, 1e9)
    startups_per_area: float = param(2.2, "start-ups per area-year (full scale)", "49 start-ups from 22 areas in 2021 (Innovation Norway annual report 2021; docs/sources.md).", 0.0, 100.0)
    supported_firms_per_area: float = param(5.0, "firms per area-year (full scale)", "Grants go to a handful of firms a year in each area (assumption, sized to the 170 jobs of 2021; docs/sources.md). The baseline's value is fitted by `run.py calibrate` (calibration/calibrated.toml).", 0.0, 1000.0)
    max_supported_employees: float = param(99.0, "man-years", "Restructuring grants go to small and medium-sized enterprises (EU SME definition: under 100 man-years).", 1.0, 1e6)
    growth_support: float = param(0.15, "log points of sales, once", "A grant's push to a supported firm's sales in its year of support (assumption, sized to the 170 jobs of 2021).", 0.0, 2.0)
    extra_tie_attempts: float = param(0.3, "tie attempts per area firm-year", "More collaboration between firms in the area (evaluations of Rollag, Tinn, Bindal, Lierne; docs/sources.md).", 0.0, 20.0)


class CorporateNetworks(Section):
    """Corporate networks: groups of SMEs with growth ambitions collaborate for a few years."""

    enabled: bool = Field(True, description="Switch the lever on or off.")
    from_year: int = param(2010, "year", "Innovation Norway's corporate network scheme (assumption on its start).", 1990, 2150)
    networks_per_year: float = param(29.0, "networks per year", "29 new networks in 2021 (Innovation Norway annual report 2021; docs/sources.md).", 0.0, 1000.0)
    firms_per_network: int = param(7, "firms", "210 participants in 29 networks in 2021 (Innovation Norway annual report 2021; docs/sources.md), about 7 each.", 2, 100)
    min_employees: float = param(5.0, "man-years", "Small and medium-sized enterprises: 5-99 man-years.", 0.0, 1e5)
    max_employees: float = param(99.0, "man-years", "Small and medium-sized enterprises: 5-99 man-years.", 1.0, 1e6)
    period_years: int = param(3, "years", "Networks run two to three years (assumption).", 1, 20)
    innovation_support: float = param(0.1, "hazard per year", "Joint market and product development in the network.", 0.0, 5.0)
    budget_nok_per_network: float = param(1_000_000.0, "NOK per network-year", "Assumption: about NOK 1 million a year in support.", 0.0, 1e9)


class GreenPlatform(Section):
    """Green Platform consortia: firms join forces on green technology projects."""

    enabled: bool = Field(True, description="Switch the lever on or off.")
    from_year: int = param(2021, "year", "First Green Platform funding at the end of 2021 (Innovation Norway annual report 2021; docs/sources.md).", 1990, 2150)
    consortia_per_year: float = param(12.0, "consortia per year", "12 green consortia funded at the end of 2021 (Innovation Norway annual report 2021; docs/sources.md).", 0.0, 1000.0)
    firms_per_consortium: int = param(5, "firms", "Several companies per consortium (docs/sources.md); assumption 5.", 2, 100)
    sectors: list[str] = Field(default_factory=lambda: ["energy", "maritime", "process_industry", "oil_gas_supply"], description="Sectors that green consortia come from (green transition; docs/sources.md).")
    period_years: int = param(3, "years", "Project length (assumption).", 1, 20)
    innovation_support: float = param(0.3, "hazard per year", "Funding, networks and expertise for ambitious joint projects (Green Platform; docs/sources.md).", 0.0, 5.0)
    budget_nok_per_consortium: float = param(15_000_000.0, "NOK per consortium-year", "Assumption: Green Platform grants of NOK 20-80 million over three years.", 0.0, 1e10)


class ClusterLink(Section):
    """Cluster-to-cluster collaboration of two cluster organisations (e.g. GCE NODE, Blue Maritime; docs/sources.md)."""

    clusters: tuple[str, str] = Field(description="Names of the two clusters.")
    from_year: int = param(2016, "year", "First year of joint projects.", 1990, 2150)
    tie_attempts: float = param(0.3, "tie attempts per member-year", "Brokered searches across the two clusters' members.", 0.0, 20.0)


class ForeignInvestment(Section):
    """Foreign firms locate where a strong cluster is (GCE Subsea attracts foreign investment; docs/sources.md)."""

    enabled: bool = Field(True, description="Switch the lever on or off.")
    entrants_per_gce: float = param(2.0, "firms per GCE-year (full scale)", "Assumption: a world-leading cluster attracts a couple of foreign subsidiaries a year.", 0.0, 100.0)
    entrants_per_nce: float = param(0.5, "firms per NCE-year (full scale)", "Assumption: national clusters attract fewer.", 0.0, 100.0)
    employees: float = param(25.0, "man-years", "Size of a foreign subsidiary on arrival (assumption).", 1.0, 1e5)


# Tables a policy change may touch during a run; the rest (population, geography, the history)
# shapes the world at the start and cannot change mid-run.
CHANGEABLE = ("membership", "network", "innovation", "growth", "demography", "levels", "programme",
              "restructuring", "corporate_networks", "green_platform", "foreign_investment")
# Keys in those tables that set up the world at the start (the cluster table and its plan).
FIXED_AT_START = ("programme.enabled", "programme.history_until", "programme.added_clusters")


class PolicyChange(Section):
    """Values that change from a year on, e.g. ``{ "restructuring.areas_per_year" = 7.4 }``."""

    year: int = param(2022, "year", "First year the new values hold.", 1990, 2150)
    set: dict[str, Any] = Field(description="Dotted keys (as for --set) and their new values.",
                                json_schema_extra={"unit": "-", "source": "The what-if being asked."})


class SectorShock(Section):
    sector: str = Field(description="Sector hit: a key of [sectors].")
    year: int = param(2014, "year", "First year of the shock.", 1990, 2150)
    years: int = param(2, "years", "Duration.", 1, 50)
    demand_change: float = param(-0.15, "log points per year", "E.g. the 2014 oil-price fall.", -2.0, 2.0)


class Output(Section):
    firm_panel: bool = Field(True, description="Write firms.parquet (the firm-year panel).")
    plots: bool = Field(True, description="Write PNG plots.")


_SSB = "Economics Norway and Statistics Norway, as reported by Innovation Norway; docs/sources.md"


class Measurement(Section):
    """The membership effect as Statistics Norway measured it, and the truth from a twin world."""

    effects: bool = Field(True, description="Estimate the membership effect after the run (effects.csv).")
    twin: bool = Field(True, description="Also run the untreated twin world in lockstep for the true effect (about doubles run time).")
    first_cohort: int = param(2003, "year", "Earliest joining year measured; needs two pre-entry years in the register.", 1990, 2150)
    last_cohort: int = param(2018, "year", f"Latest joining year measured: its three-year window ends in 2020, the latest register year a report of 2021 could use ({_SSB}).", 1990, 2150)
    window_years: int = param(3, "years", f"Average yearly growth over the first three years of membership ({_SSB}).", 1, 10)
    max_years_since: int = param(5, "years", "Years since joining in the by-year table.", 1, 15)
    neighbours: int = param(5, "controls per member", "Nearest-neighbour propensity-score matching with replacement (Abadie & Imbens 2006 use 4).", 1, 50)
    caliper_sd: float = param(0.2, "s.d. of the logit of the propensity score", "Austin (2011): 0.2 s.d. of the logit removes most bias.", 0.001, 10.0)
    controls_per_treated: float = param(50.0, "firms", "Non-members sampled per member and cohort-sector cell as the control pool (Statistics Norway drew a representative selection of non-members).", 1.0, 10000.0)
    winsorize: float = param(0.01, "1 (share in each tail)", "Yearly growth rates are winsorised at these quantiles so that a few tiny firms do not dominate means.", 0.0, 0.25)
    bootstrap: int = param(200, "resamples", "Pairs bootstrap over members (each with its matched controls) for 95 % intervals.", 0, 100000)

    @model_validator(mode="after")
    def _cohorts_ordered(self) -> Measurement:
        if self.last_cohort < self.first_cohort:
            raise ValueError(f"last_cohort ({self.last_cohort}) must not be before first_cohort ({self.first_cohort})")
        if self.max_years_since < self.window_years:
            # Controls must stay out of the clusters for the whole window they are compared over.
            raise ValueError(f"max_years_since ({self.max_years_since}) must be at least window_years ({self.window_years})")
        return self


class Scenario(Section):
    """A complete, validated scenario."""

    scenario: Meta = Field(default_factory=Meta)
    population: Population = Field(default_factory=Population)
    regions: dict[str, Region] = Field(default_factory=lambda: {k: Region(**v) for k, v in _NORWAY["regions"].items()})
    sectors: dict[str, Sector] = Field(default_factory=lambda: {k: Sector(**v) for k, v in _NORWAY["sectors"].items()})
    knowledge_institutions: list[KnowledgeInstitutionSpec] = Field(
        default_factory=lambda: [KnowledgeInstitutionSpec(**k) for k in _NORWAY["knowledge_institutions"]])
    membership: Membership = Field(default_factory=Membership)
    network: Network = Field(default_factory=Network)
    innovation: Innovation = Field(default_factory=Innovation)
    growth: Growth = Field(default_factory=Growth)
    demography: Demography = Field(default_factory=Demography)
    levels: Levels = Field(default_factory=Levels)
    programme: Programme = Field(default_factory=Programme)
    restructuring: Restructuring = Field(default_factory=Restructuring)
    corporate_networks: CorporateNetworks = Field(default_factory=CorporateNetworks)
    green_platform: GreenPlatform = Field(default_factory=GreenPlatform)
    cluster_links: list[ClusterLink] = Field(default_factory=list)
    foreign_investment: ForeignInvestment = Field(default_factory=ForeignInvestment)
    clusters: list[ClusterSpec] = Field(default_factory=list)
    shocks: list[SectorShock] = Field(default_factory=list)
    changes: list[PolicyChange] = Field(default_factory=list, description="Policy changes from a year on, applied in year order.")
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
    def _references(self) -> Scenario:
        for where, clusters in (("clusters", self.clusters), ("programme.added_clusters", self.programme.added_clusters)):
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
    """A name in the scenario that refers to nothing; carries the key path."""

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
