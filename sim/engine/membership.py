"""The membership kernel: firms leaving their cluster.

Rules: :mod:`sim.submodels.membership`.
"""

from __future__ import annotations

import numba

from sim.engine.jit import JIT, sig, warm_up


@numba.njit(sig("void({I64}, {BOOL}, {I32}, {I16})"), **JIT)
def leave_clusters(rows, member, cluster, join_year):
    """The firms in ``rows`` leave their cluster."""
    for r in rows:
        member[r], cluster[r], join_year[r] = False, -1, -1


warm_up(leave_clusters)
