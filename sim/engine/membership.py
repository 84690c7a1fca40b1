"""The membership kernels: firms leaving their cluster, a cluster choosing its recruits.

Rules: :mod:`sim.submodels.membership`.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.engine.jit import EXACT, JIT, sig, warm_up


@numba.njit(sig("void({I64}, {BOOL}, {I32}, {I16})"), **JIT)
def leave_clusters(rows, member, cluster, join_year):
    """The firms in ``rows`` leave their cluster."""
    for r in rows:
        member[r], cluster[r], join_year[r] = False, -1, -1


@numba.njit(sig("int64[::1]({I64}, {F64}, {F64}, {I16}, {BOOL}, float64, float64, float64, float64[:, ::1], "
                "int64, float64, int64)"), **EXACT)
def recruits(pool, own, per_value_added, region, eligible, benefit, cost, distance_weight, distance_km, hub,
             km_per_unit, room):
    """The firms a cluster admits: its ``room`` eligible candidates of highest positive utility.

    Compiled without fast-math (:data:`~sim.engine.jit.EXACT`): each utility is the sum numpy made
    before, in the same order, so the same firms are chosen.

    Args:
        pool: The candidate firms (the cluster's sector), with ``own`` utility, ``per_value_added``
            (1 / value added) and ``region`` of each.
        eligible: By firm: not a member and has not just left.
        benefit: Weighted benefit of the cluster's services (utility).
        cost: Weighted hours and fee of membership (NOK), to divide by a firm's value added.
        distance_weight: Utility per distance unit to the cluster's hub.
        distance_km: Distances between counties; ``hub`` the cluster's county.
        km_per_unit: Kilometres per distance unit.
        room: Firms the cluster admits at most.

    Returns:
        The admitted firms, best first (ties in pool order).
    """
    candidates = np.empty(pool.shape[0], dtype=np.int64)
    utility = np.empty(pool.shape[0])
    n = 0
    for j in range(pool.shape[0]):
        if eligible[pool[j]]:
            km = distance_km[region[j], hub]
            u = own[j] + benefit - cost * per_value_added[j] - distance_weight * km / km_per_unit
            if u > 0.0:
                candidates[n], utility[n] = pool[j], u
                n += 1
    order = np.argsort(-utility[:n], kind="mergesort")[:room]
    return candidates[order]


warm_up(leave_clusters, recruits)
