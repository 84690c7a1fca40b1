"""The instruments beside the programme.

Regional restructuring, corporate networks, Green Platform consortia, cluster-to-cluster links and
foreign investment attracted to strong clusters.
"""

from __future__ import annotations

from pydantic import Field

from sim.scenario.limits import MAX_SECTORS, Name
from sim.scenario.params import Section, param


class Restructuring(Section):
    """Regional restructuring: areas with a vulnerable industry structure get a period of support."""

    enabled: bool = Field(True, description="Switch the lever on or off.")
    from_year: int = param(
        2000, "year",
        "The restructuring programme predates the cluster programme (regional policy since the 1980s).", 1990, 2150)
    areas_per_year: float = param(
        3.7, "areas per year",
        "About 22 areas followed up in 2021 with six-year periods (Innovation Norway annual report 2021; "
        "docs/sources.md): 22 / 6.",
        0.0, 100.0)
    period_years: int = param(6, "years", "Areas keep their status up to six years (docs/sources.md).", 1, 30)
    area_firm_share: float = param(
        0.03, "1 (share of the county's firms)", "A municipality or group of municipalities inside a county.", 0.0,
        1.0)
    vulnerability_weight: float = param(
        20.0, "1 per log point of county job growth",
        "Areas are chosen where jobs have been shrinking (a vulnerable industry structure; docs/sources.md).", 0.0,
        1000.0)
    lookback_years: int = param(3, "years", "Window of county job growth used to judge vulnerability.", 1, 20)
    budget_nok_per_area: float = param(
        4_000_000.0, "NOK per area-year",
        "Typical yearly restructuring budget of a municipality (assumption; programme reports give NOK 2-6 million).",
        0.0, 1e9)
    startups_per_area: float = param(
        2.2, "start-ups per area-year (full scale)",
        "49 start-ups from 22 areas in 2021 (Innovation Norway annual report 2021; docs/sources.md).", 0.0, 100.0)
    supported_firms_per_area: float = param(
        5.0, "firms per area-year (full scale)",
        "Grants go to a handful of firms a year in each area (assumption, sized to the 170 jobs of 2021; "
        "docs/sources.md). The baseline's value is fitted by `run.py calibrate` (calibration/calibrated.toml).",
        0.0, 1000.0)
    max_supported_employees: float = param(
        99.0, "man-years",
        "Restructuring grants go to small and medium-sized enterprises (EU SME definition: under 100 man-years).",
        1.0, 1e6)
    growth_support: float = param(
        0.15, "log points of sales, once",
        "A grant's push to a supported firm's sales in its year of support (assumption, sized to the 170 jobs "
        "of 2021).",
        0.0, 2.0)
    extra_tie_attempts: float = param(
        0.3, "tie attempts per area firm-year",
        "More collaboration between firms in the area (evaluations of Rollag, Tinn, Bindal, Lierne; docs/sources.md).",
        0.0, 20.0)


class CorporateNetworks(Section):
    """Corporate networks: groups of SMEs with growth ambitions collaborate for a few years."""

    enabled: bool = Field(True, description="Switch the lever on or off.")
    from_year: int = param(
        2010, "year", "Innovation Norway's corporate network scheme (assumption on its start).", 1990, 2150)
    networks_per_year: float = param(
        29.0, "networks per year",
        "29 new networks in 2021 (Innovation Norway annual report 2021; docs/sources.md).", 0.0, 1000.0)
    firms_per_network: int = param(
        7, "firms",
        "210 participants in 29 networks in 2021 (Innovation Norway annual report 2021; docs/sources.md), about"
        " 7 each.",
        2, 100)
    min_employees: float = param(5.0, "man-years", "Small and medium-sized enterprises: 5-99 man-years.", 0.0, 1e5)
    max_employees: float = param(99.0, "man-years", "Small and medium-sized enterprises: 5-99 man-years.", 1.0, 1e6)
    period_years: int = param(3, "years", "Networks run two to three years (assumption).", 1, 20)
    innovation_support: float = param(
        0.1, "hazard per year", "Joint market and product development in the network.", 0.0, 5.0)
    budget_nok_per_network: float = param(
        1_000_000.0, "NOK per network-year", "Assumption: about NOK 1 million a year in support.", 0.0, 1e9)


class GreenPlatform(Section):
    """Green Platform consortia: firms join forces on green technology projects."""

    enabled: bool = Field(True, description="Switch the lever on or off.")
    from_year: int = param(
        2021, "year",
        "First Green Platform funding at the end of 2021 (Innovation Norway annual report 2021; docs/sources.md).",
        1990, 2150)
    consortia_per_year: float = param(
        12.0, "consortia per year",
        "12 green consortia funded at the end of 2021 (Innovation Norway annual report 2021; docs/sources.md).", 0.0,
        1000.0)
    firms_per_consortium: int = param(
        5, "firms", "Several companies per consortium (docs/sources.md); assumption 5.", 2, 100)
    sectors: list[Name] = Field(
        default_factory=lambda: ["energy", "maritime", "process_industry", "oil_gas_supply"], max_length=MAX_SECTORS,
        description="Sectors that green consortia come from (green transition; docs/sources.md).")
    period_years: int = param(3, "years", "Project length (assumption).", 1, 20)
    innovation_support: float = param(
        0.3, "hazard per year",
        "Funding, networks and expertise for ambitious joint projects (Green Platform; docs/sources.md).", 0.0, 5.0)
    budget_nok_per_consortium: float = param(
        15_000_000.0, "NOK per consortium-year",
        "Assumption: Green Platform grants of NOK 20-80 million over three years.", 0.0, 1e10)


class ClusterLink(Section):
    """Cluster-to-cluster collaboration of two cluster organisations (e.g. GCE NODE, Blue Maritime; docs/sources.md)."""

    clusters: tuple[Name, Name] = Field(description="Names of the two clusters.")
    from_year: int = param(2016, "year", "First year of joint projects.", 1990, 2150)
    tie_attempts: float = param(
        0.3, "tie attempts per member-year", "Brokered searches across the two clusters' members.", 0.0, 20.0)


class ForeignInvestment(Section):
    """Foreign firms locate where a strong cluster is (GCE Subsea attracts foreign investment; docs/sources.md)."""

    enabled: bool = Field(True, description="Switch the lever on or off.")
    entrants_per_gce: float = param(
        2.0, "firms per GCE-year (full scale)",
        "Assumption: a world-leading cluster attracts a couple of foreign subsidiaries a year.", 0.0, 100.0)
    entrants_per_nce: float = param(
        0.5, "firms per NCE-year (full scale)", "Assumption: national clusters attract fewer.", 0.0, 100.0)
    employees: float = param(25.0, "man-years", "Size of a foreign subsidiary on arrival (assumption).", 1.0, 1e5)
