"""The labour market: the labour supply that bounds the business sector's employment.

Sector demand is exogenous, so without a limit the firms could hire more people than Norway has.
Each year the firms' employment is set against a labour supply that starts at the start year's
employment and grows by ``labour.supply_growth`` (observed years) or ``labour.supply_growth_projection``
(from ``labour.projection_year``). When the firms employ more than the supply, every sector's demand
growth falls by ``labour.tightness_elasticity`` times the log excess: wages rise and hiring stalls,
so aggregate employment follows the supply within a few years. Below the supply nothing changes
(unemployment does not raise demand). The per-agent reference (:mod:`sim.reference`) applies the
same rule.
"""

from __future__ import annotations

import math

from sim.scenario.schema import Scenario


def supply_index(spec: Scenario, year: int) -> float:
    """The labour supply at the start of ``year`` relative to the start year (1 in the start year).

    Args:
        spec: The scenario (``labour`` and ``scenario.start_year`` are used).
        year: The simulated year.

    Returns:
        ``exp`` of the supply growth summed over the years from the start year to ``year - 1``.
    """
    lab, start = spec.labour, spec.scenario.start_year
    observed = max(min(year, lab.projection_year) - start, 0)
    projected = max(year - max(lab.projection_year, start), 0)
    return math.exp(lab.supply_growth * observed + lab.supply_growth_projection * projected)


def demand_pressure(spec: Scenario, employment: float, start_employment: float, year: int) -> float:
    """How much a labour shortage lowers every sector's demand growth this year (log points, >= 0).

    Args:
        spec: The scenario.
        employment: The firms' man-years at the start of the year (the end of the last).
        start_employment: Their man-years in the start year: the supply's starting point.
        year: The simulated year.

    Returns:
        ``tightness_elasticity * max(0, log(employment / supply))``.
    """
    if employment <= 0.0 or start_employment <= 0.0 or spec.labour.tightness_elasticity == 0.0:
        return 0.0
    excess = math.log(employment / (start_employment * supply_index(spec, year)))
    return spec.labour.tightness_elasticity * max(excess, 0.0)
