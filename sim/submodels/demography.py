"""Demography, the last phase: firms close, start up (more where a cluster is active) and spin off.

Kernels: :func:`sim.engine.demography.exits`, :func:`~sim.engine.demography.entry_sites`.

Random numbers are common across scenarios: a firm's draws are hashes of (seed, purpose, year,
firm) (``m.uniform(...)``, see :mod:`sim.engine.randomness`), so firm ``r`` gets the same draw in
year ``t`` whatever else differs between two runs with the same seed (a twin world, a policy
change). The per-agent reference (:mod:`sim.reference`) states the same rules one firm at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine import demography as kernels
from sim.engine.demography import ExitParams
from sim.world.population import startup_firms

if TYPE_CHECKING:
    from sim.model import ClusterModel

def demography(m: ClusterModel) -> None:
    """Firms close, start up and spin off.

    Small, shrinking and young firms close more often; start-ups come more where a cluster is active,
    most small, a few large; spin-offs come from innovators (more from members).
    """
    cells, parents = exits(m)
    d, f, c = m.spec.demography, m.firms, m.clusters
    rng = m.stream("demography.entry")
    u = rng.random(rng.poisson(d.entry_rate * cells.sum()))  # one uniform per entrant
    region, sector = kernels.entry_sites(u, cells, c.level, c.region, c.sector, d.cluster_entry_boost,
                                         f.region[parents], f.sector[parents], len(m.spec.sectors))
    n_new = len(region) - len(parents)
    # Entrants, then spin-offs in their parents' county and sector, drawn as one batch of start-ups
    # at today's productivity (not the start year's); a spin-off starts from its parent's knowledge.
    born = startup_firms(m.spec, rng, len(region), region, sector, m.year, m.productivity_index())
    born["kx"][n_new:], born["ky"][n_new:] = f.kx[parents], f.ky[parents]
    # A few start big: a Pareto factor on the smallest class's draw (1 when the tail is 0), from each new
    # row's own draw, so the entry stream's numbers stay as they were. Sales scale with man-years, and
    # a start-up not fully staffed has the sales of more man-years than it has: it hires up to them.
    factor = m.uniform("demography.startup_size", np.arange(f.n, f.n + len(region))) ** -d.startup_size_tail
    born["employees"] *= factor
    born["revenue"] *= factor / d.startup_staffing
    born["parent"] = np.concatenate([np.full(n_new, -1), parents]).astype(np.int32)
    m.open(born)
    m.startups = n_new + len(parents) + m.startups_extra


def exits(m: ClusterModel) -> tuple[np.ndarray, np.ndarray]:
    """Close firms (small, shrinking and young ones more often).

    Returns:
        ``(cells, parents)``: open firms per (county, sector) after the exits, as
        ``county * sectors + sector``, and the survivors that spin off a firm this year.
    """
    d, f = m.spec.demography, m.firms
    params = ExitParams(
        exit_rate=d.exit_rate, exit_size_elasticity=d.exit_size_elasticity,
        exit_growth_sensitivity=d.exit_growth_sensitivity, exit_age_elasticity=d.exit_age_elasticity,
        min_employees=m.spec.growth.min_employees,
        spinoff_rate=d.spinoff_rate, spinoff_member_boost=d.spinoff_member_boost)
    closing, cells, parents = kernels.exits(f.n, f.alive, m.keys("demography.exit", "demography.spinoff"), m.year,
                                            params, f.employees, f.growth, f.birth_year, f.innovated, f.member,
                                            f.region, f.sector, len(m.spec.regions), len(m.spec.sectors))
    m.close(closing)
    return cells, parents
