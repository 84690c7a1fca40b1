"""The economy's tables: counties, sectors, knowledge institutions, the synthetic population, demand shocks.

Defaults of the built-in counties, sectors and institutions come from ``sim/scenario/data/norway.toml``.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Annotated, Any

from pydantic import Field, field_validator

from sim.scenario.limits import (
    MAX_CLASS_COUNT,
    MAX_CLASS_SIZE,
    MAX_FIRM_YEARS,
    MAX_FIRMS,
    MAX_LIST,
    MAX_SIZE_CLASSES,
    Name,
)
from sim.scenario.params import Section, param


def _norway() -> dict[str, Any]:
    text = resources.files("sim.scenario").joinpath("data/norway.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


NORWAY = _norway()


_DATA = "sim/scenario/data/norway.toml (see its header for sources)"


class Region(Section):
    """One ``[regions.<county>]`` entry: a county's centroid and share of enterprises."""

    lat: float = param(60.0, "degrees north", _DATA, 57.0, 72.0)
    lon: float = param(10.0, "degrees east", _DATA, 4.0, 32.0)
    enterprise_share: float = param(0.09, "1", _DATA, 0.0, 1.0)


class Sector(Section):
    """One ``[sectors.<sector>]`` entry: a sector's share, productivity, value-added share, demand and knowledge."""

    enterprise_share: float = param(0.05, "1", _DATA, 0.0, 1.0)
    value_added_per_man_year_nok: float = param(900_000.0, "NOK per man-year", _DATA, 1e4, 1e8)
    value_added_share: float = param(0.35, "1 (value added / revenue)", _DATA, 0.01, 1.0)
    demand_growth: float = param(0.02, "log points per year", _DATA, -0.5, 0.5)
    knowledge_x: float = param(0.5, "knowledge-space units", _DATA, 0.0, 1.0)
    knowledge_y: float = param(0.5, "knowledge-space units", _DATA, 0.0, 1.0)
    location_weights: dict[Name, Annotated[float, Field(ge=0.0, le=1000.0)]] = Field(
        default_factory=dict, description="County -> location quotient.",
        json_schema_extra={"unit": "1 (location quotient)", "source": _DATA})


class KnowledgeInstitutionSpec(Section):
    """One ``[[institutions]]`` entry: a university or research institute and the sectors it serves."""

    name: Name = Field(description="Name of the university or institute.")
    region: Name = Field(description="Home county: a key of [regions].")
    fields: list[Name] = Field(
        min_length=1, max_length=MAX_LIST, description="Knowledge bases it serves: keys of [sectors].")


class Population(Section):
    """The ``[population]`` table: the synthetic firm population of the start year."""

    scale: float = param(
        1.0, "1 (share of the real population)", "1 = full-scale Norway; 0.05 for class use.", 1e-4, 1.0)
    size_classes: dict[str, int] = Field(
        default_factory=lambda: {
            "1-4": 152_393, "5-9": 19_252, "10-19": 11_113, "20-49": 6_163,
            "50-99": 1_553, "100-249": 866, "250+": 459,
        },
        max_length=MAX_SIZE_CLASSES,
        description="Employer enterprises of the business sector by employees in the start year (2000). Keys "
                    "'lo-hi' or 'lo+'.",
        json_schema_extra={
            "unit": "enterprises (full scale)",
            "source": "Statistics Norway's 2017 table of enterprises by persons employed (docs/sources.md, "
                      "SSB-ENT-2017: 243,829; 30,803; 17,781; 9,861; 2,485; 1,385; 734), every count times 0.625 so "
                      "that the firms employ the 1.43 million employees of the business sector's enterprises on 1 "
                      "January 2001 (docs/sources.md, SSB-DEM-2001-2005); no size-class table for 2000 was found, so "
                      "the shape is 2017's (an assumption). Limits: counts"
                      f" 0-{MAX_CLASS_COUNT:,}, not all zero; at most {MAX_FIRMS:,} simulated firms (counts x"
                      f" scale) and {MAX_FIRM_YEARS:,} simulated firm-years (firms x years), since a run needs"
                      " about 240 bytes per firm-year (full scale, 36 years: 2.7 GB peak), so about 14.5 GB at the"
                      " limit, within a 24 GiB machine (sim/scenario/limits.py)."},
    )
    top_class_pareto_alpha: float = param(
        1.3, "1", "Tail of Norway's largest enterprises (Pareto fit to SSB 250+ class; Axtell 2001 finds about 1).",
        0.5, 5.0)
    max_employees: int = param(20_000, "man-years", "Equinor-sized upper bound on one enterprise.", 250, 200_000)
    value_added_year: int = param(
        2018, "year",
        "The year the sectors' value added per man-year describes (Statistics Norway's structural business "
        "statistics 2017-2019; docs/sources.md, SSB-SBS). Firms of other years get it moved by "
        "growth.productivity_trend, so the start year's firms are as productive as firms were then.",
        1990, 2100)
    value_added_level: float = param(
        0.70, "factor",
        "Calibrated: scales every sector's value added per man-year (and so sales) so that the business "
        "sector's value added in 2020 is Statistics Norway's (NOK 1,346 bn in the 12 sections of the structural "
        "business statistics; docs/sources.md, SSB-SBS-2021). `run.py calibrate` sets it with the posterior's "
        "central draw (calibration/calibrated.toml), since the draw's productivity gains move the total; the "
        "default is the level that fitted before the posterior. No growth rate depends on it; membership's cost "
        "weighs against a firm's value added, so who joins does, a little.",
        0.2, 5.0)
    productivity_sd: float = param(
        0.45, "log points",
        "Within-sector dispersion of labour productivity (Syverson 2011: 90/10 ratio about 2-4).", 0.0, 2.0)
    knowledge_sd: float = param(
        0.08, "knowledge-space units",
        "Spread of firms around their sector's knowledge position; chosen so sectors overlap a little.", 0.0, 0.5)
    growth_potential_sd: float = param(
        0.04, "log points per year",
        "Latent, unobserved growth potential (drives joining and growth; the source of selection bias). The "
        "baseline's value is fitted by `run.py calibrate` (calibration/calibrated.toml).",
        0.0, 0.5)
    rd_effort_mean: float = param(
        0.15, "1 (share of firms' effort)",
        "Mean own R&D and innovation effort; Norway's CIS innovation-active share is about 0.3.", 0.0, 1.0)
    beta_concentration: float = param(
        4.0, "1 (alpha + beta)",
        "Spread of R&D effort and export intensity around a firm's mean; most firms near zero with a long tail,"
        " as in R&D surveys.",
        0.5, 100.0)
    rd_size_elasticity: float = param(
        0.4, "log-odds per log man-year",
        "CIS (SSB innovation survey): innovation-active share about 0.3 at 10-49 vs 0.65 at 250+ employees.", 0.0,
        3.0)
    rd_science_weight: float = param(
        2.0, "log-odds per unit knowledge_y",
        "CIS by industry: ICT/pharma about 0.6 vs accommodation about 0.2 innovation-active.", 0.0, 10.0)
    export_size_elasticity: float = param(
        0.5, "log-odds per log man-year",
        "SSB trade by enterprise characteristics: exporter share about 0.15 small vs 0.6-0.7 at 250+.", 0.0, 3.0)
    absorptive_size_weight: float = param(
        0.5, "log-odds per log man-year",
        "Absorptive capacity grows with scale (Cohen & Levinthal 1990); micro firms near 0.4.", 0.0, 5.0)
    absorptive_rd_weight: float = param(
        4.0, "log-odds per unit R&D effort",
        "Absorptive capacity is a by-product of own R&D (Cohen & Levinthal 1990).", 0.0, 20.0)
    age_mean_years: float = param(
        11.0, "years",
        "Mean age of a one-man-year employer enterprise: steady state of the about 9 % yearly exit hazard (SSB "
        "business demography).",
        0.5, 100.0)
    age_size_elasticity: float = param(
        0.15, "1", "Mean age ~ man-years^e: 500-man-year firms about 2.5x as old (about 28 years).", 0.0, 1.0)
    international_share: float = param(
        0.25, "1", "Share of enterprises with export activity (SSB), scales international orientation.", 0.0, 1.0)


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
            if int(key.rstrip("+").split("-")[-1]) > MAX_CLASS_SIZE:
                raise ValueError(f"size class '{key}' goes beyond {MAX_CLASS_SIZE:,} man-years")
            if count < 0:
                raise ValueError(f"size class '{key}' has a negative count")
            if count > MAX_CLASS_COUNT:
                raise ValueError(f"size class '{key}' has {count:,} enterprises, at most {MAX_CLASS_COUNT:,}")
        if not any(classes.values()):
            raise ValueError("size classes must not all be zero (there would be no firms)")
        return classes


class LabourMarket(Section):
    """The ``[labour]`` table: the labour supply that bounds the firms' employment (:mod:`sim.submodels.labour`)."""

    supply_growth: float = param(
        0.008, "log points per year",
        "Growth of the labour the business sector hires in the observed years: its employment rose from 1.43 "
        "million employees (enterprises on 1 January 2001) to 1.66 million persons employed (structural business "
        "statistics, 2020), about 0.8 % a year (Statistics Norway; docs/sources.md, SSB-DEM-2001-2005, SSB-SBS-2021).",
        -0.1, 0.1)
    projection_year: int = param(
        2020, "year", "First year of the projected supply growth (the last observed figure is for 2020).", 1990,
        2150)
    supply_growth_projection: float = param(
        0.004, "log points per year",
        "Labour supply growth after the observed years. Assumption: register-based employment rose 0.6 % in 2024 "
        "(Statistics Norway; docs/sources.md, SSB-REGSYS-2024) and the working-age population grows more slowly "
        "in Statistics Norway's population projections; rounded down to 0.4 %.",
        -0.1, 0.1)
    tightness_elasticity: float = param(
        1.0, "log points of demand growth per log point of excess employment",
        "When the firms employ more than the labour supply, every sector's demand growth falls by this times the "
        "log excess (wages rise, hiring stalls); 0 switches the limit off. Assumption: 1 brings employment back "
        "to the supply within a few years.",
        0.0, 10.0)


class SectorShock(Section):
    """One ``[[shocks]]`` entry: a change in a sector's demand growth for some years."""

    sector: Name = Field(description="Sector hit: a key of [sectors].")
    year: int = param(2014, "year", "First year of the shock.", 1990, 2150)
    years: int = param(2, "years", "Duration.", 1, 50)
    demand_change: float = param(-0.15, "log points per year", "E.g. the 2014 oil-price fall.", -2.0, 2.0)
