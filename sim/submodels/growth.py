"""Growth, the sixth phase: sales, productivity, employment and each firm's latent potential.

Kernel: :func:`sim.engine.growth.grow`.

Random numbers are common across scenarios: a firm's draws are hashes of (seed, purpose, year,
firm) (``m.uniform(...)``, see :mod:`sim.engine.randomness`), so firm ``r`` gets the same draw in
year ``t`` whatever else differs between two runs with the same seed (a twin world, a policy
change). The per-agent reference (:mod:`sim.reference`) states the same rules one firm at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine import growth as kernels
from sim.engine.growth import GrowthParams
from sim.submodels.services import per_cluster_array

if TYPE_CHECKING:
    from sim.model import ClusterModel

# E[exp(X)] of a Laplace shock is finite only for scale b < 1; 0.9 is far beyond any sane sd.
MAX_LAPLACE_SCALE = 0.9
# A firm's value-added share stays inside these bounds (every sector's share lies well within them).
VA_SHARE_BOUNDS = (0.05, 0.95)
# Displacement takes at most half a market's non-member sales in a year, however small their share.
MAX_DISPLACED_SHARE = 0.5


def growth(m: ClusterModel) -> None:
    """Firms' sales, productivity and employment grow.

    Sales follow sector demand, expected growth from potential, youth (fading with age), innovation,
    cluster market access (fading with years of membership, and partly taken from non-members of the
    same county and sector) and fat-tailed shocks; productivity grows;
    the value-added share moves with productivity, innovation and scale; employment moves toward
    what value added needs, with frictions (none while the gap is small) and hires and quits of its own.
    """
    g, inn, f = m.spec.growth, m.spec.innovation, m.firms
    access = m.per_cluster("market_access_growth") * m.funding_factor
    params = GrowthParams(
        market_access_fade=g.market_access_fade, shock_sd=g.shock_sd, shock_size_elasticity=g.shock_size_elasticity,
        max_laplace_scale=MAX_LAPLACE_SCALE, innovation_size_elasticity=inn.size_elasticity,
        demand_gain=inn.demand_gain, productivity_trend=g.productivity_trend, productivity_gain=inn.productivity_gain,
        productivity_noise_sd=g.productivity_noise_sd, hire_rate=g.hire_rate, fire_rate=g.fire_rate,
        potential_persistence=g.potential_persistence, growth_potential_sd=m.spec.population.growth_potential_sd,
        potential_size_elasticity=g.potential_size_elasticity, young_growth=g.young_growth,
        young_growth_fade=g.young_growth_fade, employment_shock_sd=g.employment_shock_sd,
        adjustment_threshold=g.adjustment_threshold, va_productivity_elasticity=g.va_productivity_elasticity,
        va_innovation_gain=g.va_innovation_gain, va_scale_elasticity=g.va_scale_elasticity,
        min_va_share=VA_SHARE_BOUNDS[0], max_va_share=VA_SHARE_BOUNDS[1], displacement=g.displacement,
        max_displaced_share=MAX_DISPLACED_SHARE)
    keys = m.keys("growth.shock", "growth.productivity", "growth.potential", "growth.employment")
    kernels.grow(f.n, f.alive, keys, m.year, np.ascontiguousarray(m.sector_demand, dtype=np.float64),
                 per_cluster_array(access), params, f.employees, f.revenue, f.productivity, f.va_share, f.potential,
                 f.innovated, f.sector, f.region, len(m.spec.sectors), f.member, f.cluster, f.join_year, f.birth_year,
                 f.support_growth, f.growth)


def expected_growth(m: ClusterModel, rows: np.ndarray) -> np.ndarray:
    """Each firm's expected extra growth from its latent potential: smaller for larger firms."""
    f = m.firms
    return f.potential[rows] * f.employees[rows] ** -m.spec.growth.potential_size_elasticity
