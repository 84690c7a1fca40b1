"""Innovation, the fifth phase: firms innovate from own effort, institutions and partners' knowledge.

Kernel: :func:`sim.engine.innovation.innovate`.

Random numbers are common across scenarios: a firm's draws are hashes of (seed, purpose, year,
firm) (``m.uniform(...)``, see :mod:`sim.engine.randomness`), so firm ``r`` gets the same draw in
year ``t`` whatever else differs between two runs with the same seed (a twin world, a policy
change). The per-agent reference (:mod:`sim.reference`) states the same rules one firm at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.engine import innovation as kernels
from sim.engine.innovation import InnovationParams
from sim.submodels.services import per_cluster_array

if TYPE_CHECKING:
    from sim.model import ClusterModel

def innovation(m: ClusterModel) -> None:
    """Firms innovate from own effort, institution ties and novel knowledge over ties.

    Novelty of a partner peaks at an optimal cognitive distance (an inverted U); partners'
    knowledge then converges, so a new tie teaches most in its first years.
    """
    inn, f, ties = m.spec.innovation, m.firms, m.ties
    advisory = m.per_cluster("advisory_innovation") * m.funding_factor
    params = InnovationParams(
        optimal_distance=inn.optimal_distance, base_rate=inn.base_rate, rd_weight=inn.rd_weight,
        spillover_weight=inn.spillover_weight, institution_weight=inn.institution_weight,
        convergence_rate=inn.convergence_rate, drift_sd=inn.drift_sd)
    kernels.innovate(f.n, f.alive, m.keys("innovation.success", "innovation.drift_x", "innovation.drift_y"),
                     ties.a, ties.b, per_cluster_array(advisory), params, f.kx, f.ky, f.rd_effort, f.absorptive,
                     f.institution, f.support_innovation, f.member, f.cluster, f.innovated)
