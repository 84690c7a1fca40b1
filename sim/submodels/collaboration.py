"""Collaboration, the fourth phase: ties lapse and form, firms find knowledge institutions.

Kernels: :func:`sim.engine.collaboration.ties_kept`, :func:`~sim.engine.collaboration.partner_ties`,
:func:`~sim.engine.collaboration.institution_ties`; the instruments reuse :func:`draw_same` and
:func:`accept` for their own searches.

Random numbers are common across scenarios: a firm's draws are hashes of (seed, purpose, year,
firm) (``m.uniform(...)``, see :mod:`sim.engine.randomness`), so firm ``r`` gets the same draw in
year ``t`` whatever else differs between two runs with the same seed (a twin world, a policy
change). The per-agent reference (:mod:`sim.reference`) states the same rules one firm at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine import collaboration as kernels
from sim.engine.collaboration import InstitutionParams, SearchParams
from sim.submodels.services import per_cluster_array

if TYPE_CHECKING:
    from sim.model import ClusterModel

def collaboration(m: ClusterModel) -> None:
    """Ties lapse and form; firms with R&D effort find knowledge-institution partners.

    A firm searches for partners a Poisson number of times: mostly in its own county, otherwise
    anywhere; members get extra searches among their cluster's members, brokered by the cluster
    organisation. A search succeeds with a probability falling with geographic and cognitive
    distance.
    """
    net, f, ties = m.spec.network, m.firms, m.ties
    ties.keep(kernels.ties_kept(ties.keys, ties.a, ties.b, m.keys("collaboration.lapse")[0], f.member, f.cluster,
                                net.decay_rate, net.shared_member_retention))
    alive = f.alive_rows()
    facil = m.per_cluster("facilitation_ties") * m.funding_factor
    keys = m.keys("collaboration.attempts", "collaboration.brokered", "collaboration.where", "collaboration.local",
                  "collaboration.anyone", "collaboration.accept")
    search = SearchParams(tie_attempts=net.tie_attempts, local_share=net.local_share, geo_scale_km=net.geo_scale_km,
                          cognitive_scale=net.cognitive_scale)
    ties.add_keys(kernels.partner_ties(alive, keys, search, f.extra_attempts, per_cluster_array(facil), f.member,
                                       f.region, len(m.region_names), f.cluster, max(len(m.clusters), 1), f.kx, f.ky,
                                       m.distance_km))
    institution_ties(m, alive)


def draw_same(pool: np.ndarray, pool_group: np.ndarray, want: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each wanted group, a uniformly random member of ``pool`` in that group (-1 if none).

    Groups are small non-negative integers (counties, clusters).
    """
    if len(want) == 0:
        return np.zeros(0, dtype=np.int64)
    groups = np.ascontiguousarray(pool_group, dtype=np.int64)
    want = np.ascontiguousarray(want, dtype=np.int64)
    n_groups = int(max(groups.max(initial=-1), want.max())) + 1
    return kernels.pick_in_group(np.ascontiguousarray(pool, dtype=np.int64), groups, n_groups, want,
                                 rng.random(len(want)))


def accept(m: ClusterModel, src: np.ndarray, dst: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Which proposals (``dst`` -1: no partner) become ties, falling with geographic and cognitive distance."""
    net, f = m.spec.network, m.firms
    return kernels.accepted(np.ascontiguousarray(src, dtype=np.int64), np.ascontiguousarray(dst, dtype=np.int64),
                            u, f.region, f.kx, f.ky, m.distance_km, net.geo_scale_km,
                            net.cognitive_scale)


def institution_ties(m: ClusterModel, alive: np.ndarray) -> None:
    """Institution ties lapse; firms without one seek one in proportion to their R&D effort."""
    net, f = m.spec.network, m.firms
    boost = net.member_institution_boost * m.funding_factor  # a service, so it shrinks with the money
    options, counts = m.institution_options
    kernels.institution_ties(alive, m.keys("institutions.lapse", "institutions.seek", "institutions.pick"),
                             InstitutionParams(institution_decay_rate=net.institution_decay_rate,
                                               institution_tie_rate=net.institution_tie_rate,
                                               member_institution_boost=boost), f.rd_effort, f.member,
                             f.region, f.sector, options, counts, f.institution)
