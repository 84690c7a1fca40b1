"""The behavioural tables: membership choice, collaboration, innovation, growth and demography."""

from __future__ import annotations

from sim.scenario.params import Section, param


class Membership(Section):
    """The ``[membership]`` table: how firms weigh joining a cluster against its cost, and how often members leave."""

    base_utility: float = param(
        -2.0, "utils",
        "Intercept of the joining decision; calibrated so members reach about 2000 in 2021 (Innovation Norway "
        "annual report 2021; docs/sources.md).",
        -20.0, 20.0)
    potential_weight: float = param(
        25.0, "utils per log point of yearly growth potential",
        "Firms expecting to grow seek partners more (selection on the unobservable, which the published "
        "comparison cannot see; docs/sources.md). The baseline's value is fitted by `run.py calibrate` "
        "(calibration/calibrated.toml).",
        -500.0, 500.0)
    foresight: float = param(
        1.0, "1 (share of the coming growth seen)",
        "How much of its coming growth (its latent potential) a firm, and the cluster organisation ranking it, "
        "sees when deciding: 1 all of it (selection on what the register cannot show), 0 none (selection on "
        "observables only). Assumption: the published figures cannot pin it down, so answers that depend on it "
        "show it; it multiplies potential_weight.",
        0.0, 1.0)
    size_weight: float = param(
        0.4, "utils per log man-year", "Larger firms join more often (programme evaluations).", -5.0, 5.0)
    international_weight: float = param(
        1.0, "utils per unit international orientation",
        "Exporters value the clusters' internationalisation and profiling services (programme goals; "
        "docs/sources.md).",
        -10.0, 10.0)
    rd_weight: float = param(
        2.0, "utils per unit R&D effort",
        "Innovating firms value knowledge access (programme goal: innovation capacity through R&D "
        "collaboration; docs/sources.md).",
        -10.0, 10.0)
    benefit_weight: float = param(
        20.0, "utils per log point of expected growth",
        "Expected benefit of the level's services enters the choice (model assumption; docs/ODD.md).", 0.0, 200.0)
    hours_per_member: float = param(
        100.0, "hours per year",
        "Members co-finance about 40 % of a cluster in hours (programme co-financing; docs/sources.md).", 0.0,
        5000.0)
    cash_share: float = param(
        0.1, "1 (share of the cluster budget)",
        "Members pay about 10 % of a cluster's budget in cash, split over its members (programme co-financing; "
        "docs/sources.md).",
        0.0, 1.0)
    hourly_cost_nok: float = param(
        800.0, "NOK per hour", "Average Norwegian labour cost incl. social charges (SSB), rounded.", 0.0, 10000.0)
    cost_weight: float = param(
        30.0, "utils per (cost / value added)", "Hours and fees weigh against the firm's value added.", 0.0, 1000.0)
    distance_weight: float = param(
        1.5, "utils per 100 km",
        "Clusters recruit around a geographical hub (programme description; docs/sources.md).", 0.0, 20.0)
    leave_rate: float = param(
        0.08, "per year", "Member churn; keeps cluster sizes steady (programme reports).", 0.0, 1.0)
    choice_noise: float = param(
        1.0, "utils (Gumbel scale)", "Unobserved taste in the discrete choice (logit).", 0.01, 10.0)


class Network(Section):
    """The ``[network]`` table: how collaboration ties and R&D ties to institutions form and lapse."""

    tie_attempts: float = param(
        0.5, "attempts per firm-year",
        "Baseline search for partners; gives mean degree near 2 (Norwegian CIS: about 1/3 of innovative firms "
        "cooperate).",
        0.0, 20.0)
    local_share: float = param(
        0.7, "1", "Share of partner searches inside the home county (geographic proximity; Boschma 2005).", 0.0, 1.0)
    geo_scale_km: float = param(150.0, "km", "Distance at which acceptance falls by 1/e.", 1.0, 5000.0)
    cognitive_scale: float = param(
        0.25, "knowledge-space units", "Cognitive distance at which acceptance falls by 1/e (Nooteboom 2000).", 0.01,
        5.0)
    decay_rate: float = param(
        0.2, "per year", "Share of ties that lapse each year (typical project length about 5 years).", 0.0, 1.0)
    shared_member_retention: float = param(
        0.5, "1", "Lower decay when both partners share a cluster (shared membership).", 0.0, 1.0)
    institution_tie_rate: float = param(
        0.15, "per firm-year at full R&D effort", "Firms with R&D effort seek a knowledge-institution partner.", 0.0,
        5.0)
    member_institution_boost: float = param(
        1.0, "1",
        "Cluster organisations broker R&D projects with institutions (NCEs work closely with R&D institutions; "
        "docs/sources.md).",
        0.0, 20.0)
    institution_decay_rate: float = param(
        0.25, "per year", "R&D projects with institutions end after about 4 years.", 0.0, 1.0)


class Innovation(Section):
    """The ``[innovation]`` table: how effort, institutions and partners' knowledge make innovations."""

    base_rate: float = param(
        0.05, "hazard per year", "Innovation without effort or partners (CIS: about 1/3 innovate over 3 years).",
        0.0, 5.0)
    rd_weight: float = param(0.5, "hazard per unit R&D effort", "Own effort (CIS).", 0.0, 10.0)
    spillover_weight: float = param(
        0.08, "hazard per unit of novel knowledge", "Knowledge flowing over ties (Jaffe 1986; docs/sources.md).",
        0.0, 10.0)
    institution_weight: float = param(
        0.15, "hazard", "An R&D tie to a university or institute (docs/sources.md).", 0.0, 10.0)
    optimal_distance: float = param(
        0.15, "knowledge-space units",
        "Cognitive distance where partners teach the most (inverted U; Nooteboom et al. 2007).", 0.01, 2.0)
    convergence_rate: float = param(
        0.15, "1 (share of the gap to partners' mean closed per year)",
        "Partners' knowledge converges, so novelty falls and effects peak early (Innovation Norway annual "
        "report 2021; docs/sources.md).",
        0.0, 1.0)
    drift_sd: float = param(
        0.01, "knowledge-space units per year", "Firms' own search keeps knowledge diverse.", 0.0, 0.5)
    productivity_gain: float = param(
        0.05, "log points (one man-year firm)",
        "Productivity step of an innovation. The baseline's value is fitted by `run.py calibrate` "
        "(calibration/calibrated.toml).",
        0.0, 1.0)
    demand_gain: float = param(
        0.06, "log points (one man-year firm)", "Sales step of an innovation (new products).", 0.0, 1.0)
    size_elasticity: float = param(
        0.2, "1",
        "An innovation is a smaller share of a large firm's sales: steps scale as size^-e, like growth "
        "volatility (Stanley et al. 1996).",
        0.0, 1.0)


class Growth(Section):
    """The ``[growth]`` table: demand, shocks, productivity, employment frictions and latent potential."""

    shock_sd: float = param(
        0.25, "log points per year (one man-year firm)",
        "Idiosyncratic sales shocks, Laplace-distributed as firm growth rates are (Bottazzi & Secchi 2006).", 0.0,
        2.0)
    shock_size_elasticity: float = param(
        0.2, "1", "Growth volatility falls with size, sd ~ size^-0.2 (Stanley et al. 1996).", 0.0, 1.0)
    potential_persistence: float = param(
        0.85, "1 (AR(1) coefficient per year)",
        "Growth opportunities fade; firm growth shows weak persistence (Coad 2007).", 0.0, 1.0)
    potential_size_elasticity: float = param(
        0.2, "1",
        "Growth opportunities shrink with size as growth volatility does (Stanley et al. 1996): a firm's "
        "expected extra growth is its potential times man-years^-e, so no firm outgrows the economy.",
        0.0, 1.0)
    market_access_fade: float = param(
        0.3, "per year of membership",
        "The profiling and market-access service opens a member's new markets mostly in its first years "
        "(members develop most in their first three years: Innovation Norway annual report 2021; "
        "docs/sources.md): its push is market_access_growth x exp(-fade x years since joining).",
        0.0, 5.0)
    displacement: float = param(
        0.5, "1 (share of members' extra sales)",
        "Members' extra sales from the cluster's market access come this share at the expense of non-members in "
        "the same county and sector (business stealing; a range from none to all, as evaluations of place-based "
        "policies find both; assumption: half, the middle of what is known). 0: demand per sector is exogenous and "
        "taken from nobody. The twin world's comparison (treatment_jobs) is net of the jobs non-members lose, "
        "treatment_jobs_gross is not.",
        0.0, 1.0)
    productivity_trend: float = param(
        0.012, "log points per year", "Norway's mainland labour-productivity growth, about 1.2 % a year (SSB).",
        -0.2, 0.2)
    productivity_noise_sd: float = param(0.03, "log points per year", "Idiosyncratic productivity changes.", 0.0, 1.0)
    hire_rate: float = param(
        0.5, "1 per year",
        "Share of a labour shortfall closed in a year (hiring frictions). The baseline's value is fitted by "
        "`run.py calibrate` (calibration/calibrated.toml).",
        0.0, 1.0)
    fire_rate: float = param(
        0.3, "1 per year",
        "Share of a labour surplus shed in a year (firing costs; Norway's employment protection).", 0.0, 1.0)
    min_employees: float = param(0.5, "man-years", "Below this an employer enterprise closes.", 0.0, 10.0)
    va_productivity_elasticity: float = param(
        0.3, "log points of value-added share per log point of own productivity change",
        "Intermediate inputs: a firm whose productivity rises beyond the trend makes more of its sales itself, "
        "so value added, sales and productivity grow apart (Innovation Norway's support in 2021: sales +10.4, "
        "value creation +9.0, productivity +4.0 pp; docs/sources.md). The size is an assumption (register-like "
        "0.3, scripts/firm_dynamics_check.py); 0 switches it off.",
        -2.0, 2.0)
    va_innovation_gain: float = param(
        0.0, "log points of value-added share per innovation step",
        "A new product or process changes what a firm buys in (assumption; 0, the default, switches it off).",
        -1.0, 1.0)
    va_scale_elasticity: float = param(
        -0.05, "log points of value-added share per log point of sales growth beyond sector demand",
        "A firm that grows buys more inputs and services outside (value-added shares fall with size in the "
        "structural business statistics, SSB-SBS; the size is an assumption, register-like -0.05; 0 switches it off). "
        "Negative: value added grows more slowly than sales, as the published gaps (14.6 against 15.2 pp) are.",
        -1.0, 1.0)
    employment_shock_sd: float = param(
        0.25, "log points per year (one man-year firm)",
        "Hires and quits that do not follow sales: a Laplace shock to man-years (sd ~ size^-shock_size_elasticity) "
        "that the hiring gap undoes in later years, so yearly man-year growth rates are tent-shaped (Bottazzi & "
        "Secchi 2006) and correlate weakly or negatively from one year to the next (Coad 2007; docs/sources.md). "
        "0 switches it off; the size is an assumption, register-like 0.25 "
        "(scripts/firm_dynamics_check.py).",
        0.0, 1.0)
    adjustment_threshold: float = param(
        0.2, "1 (share of man-years)",
        "Fixed costs of hiring and firing: a firm whose gap to the man-years its value added needs is below this "
        "share of its man-years does not adjust this year, so adjustment is lumpy (assumption, after the "
        "adjustment-cost literature; register-like 0.2, scripts/firm_dynamics_check.py). 0 switches it off.",
        0.0, 1.0)
    young_growth: float = param(
        0.05, "log points per year (at age 0)",
        "Extra sales growth of a young firm, fading with age: young survivors grow fastest ('up or out'; "
        "Haltiwanger, Jarmin & Miranda 2013; docs/sources.md). Register-like 0.05 (scripts/firm_dynamics_check.py); "
        "0 switches it off.",
        0.0, 1.0)
    young_growth_fade: float = param(
        0.5, "per year of age",
        "How fast the young firm's extra growth fades: young_growth x exp(-fade x age) (assumption; most of it "
        "within the first five years, as in HALTIWANGER-2013's age classes).",
        0.0, 5.0)


class Demography(Section):
    """The ``[demography]`` table: exits, start-ups and spin-offs."""

    exit_rate: float = param(
        0.27, "per year for a one-man-year firm of age 0",
        "Exit of new one-man-year employer enterprises; with exit_age_elasticity 0.5 it falls to about 9 % by age "
        "8, and 53 % of new employer enterprises survive five years (SSB business demography, SSB-FORDEM-2012; "
        "scripts/firm_dynamics_check.py).", 0.0, 1.0)
    exit_size_elasticity: float = param(0.35, "1", "Exit falls with size (hazard ~ size^-e).", 0.0, 3.0)
    exit_growth_sensitivity: float = param(
        2.0, "per log point of sales growth", "Shrinking firms close more often.", 0.0, 20.0)
    exit_age_elasticity: float = param(
        0.5, "1",
        "Infant mortality: the exit hazard falls with age as (1 + age)^-e (Statistics Norway's survival of new "
        "enterprises, SSB-FORDEM-2012; docs/sources.md). Register-like 0.5 with exit_rate 0.27 "
        "(scripts/firm_dynamics_check.py); 0 switches it off.",
        0.0, 3.0)
    startup_size_tail: float = param(
        0.15, "1 (inverse Pareto index)",
        "Start-ups' man-years are the smallest size class's draw times a Pareto factor u^-tail (index 1/tail, "
        "mean 1/(1 - tail)): most start small, about 4 % with 5 or more at 0.15 (SSB-FORDEM-T6; docs/sources.md). "
        "0 switches it off.",
        0.0, 0.9)
    startup_staffing: float = param(
        0.6, "1 (share of the man-years its sales need)",
        "A start-up opens with the sales of man-years / staffing and hires up to them at growth.hire_rate, so "
        "young survivors' man-years grow fastest (the survivors of 2005 employed almost four times as many "
        "persons in 2010: SSB-FORDEM-2012; HALTIWANGER-2013; docs/sources.md). 1: fully staffed; 0.6, the "
        "register-like share, is an assumption.",
        0.2, 1.0)
    entry_rate: float = param(
        0.075, "start-ups per alive firm-year", "New employer enterprises about 7-8 % of the stock (SSB).", 0.0, 1.0)
    cluster_entry_boost: float = param(
        0.3, "1",
        "Extra start-ups in a county-sector with an active cluster (entrepreneurship environment, a programme "
        "goal; docs/sources.md).",
        0.0, 10.0)
    spinoff_rate: float = param(0.02, "per innovation", "Innovations that become a new firm.", 0.0, 1.0)
    spinoff_member_boost: float = param(
        1.0, "1", "Members spin off more (acceleration programmes; docs/sources.md).", 0.0, 20.0)
