"""The innovation kernel: who innovates and how knowledge positions move over ties.

Rules: :mod:`sim.submodels.innovation`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from numba import types

from sim.engine import vecmath as vm
from sim.engine.jit import BOOL, F64, I32, JIT, KEYS, bundle, warm_up
from sim.engine.randomness import normals_of, unit


class InnovationParams(NamedTuple):
    """The innovation phase's scalar parameters, named as in the scenario's ``[innovation]``."""

    optimal_distance: float
    base_rate: float
    rd_weight: float
    spillover_weight: float
    institution_weight: float
    convergence_rate: float
    drift_sd: float


INNOVATION = bundle(InnovationParams)


@numba.njit(types.void(types.int64, BOOL, KEYS, I32, I32, F64, INNOVATION, F64, F64, F64, F64, I32, F64, BOOL, I32,
                       BOOL), **JIT)
def innovate(n, alive, keys, tie_a, tie_b, advisory_per_cluster, p, kx, ky, rd_effort, absorptive,
             institution, support_innovation, member, cluster, innovated):
    """The innovation phase for the open firms among the first ``n`` rows.

    Rules: :func:`sim.submodels.innovation.innovation`.

    Args:
        n: Rows in use.
        alive: Firm column: which rows are open (only those change).
        keys: Hashed keys of this year's "innovation.success", "innovation.drift_x" and
            "innovation.drift_y" draws.
        tie_a, tie_b: The collaboration ties.
        advisory_per_cluster: Innovation hazard from cluster advice (funding applied).
        p: The scalar parameters (:class:`InnovationParams`).
        kx, ky, rd_effort, absorptive, institution, support_innovation, member, cluster,
        innovated: Firm columns (``kx``, ``ky`` and ``innovated`` updated in place).
    """
    optimal, base_rate, rd_w, spill_w = p.optimal_distance, p.base_rate, p.rd_weight, p.spillover_weight
    inst_w, convergence, drift_sd = p.institution_weight, p.convergence_rate, p.drift_sd
    success_key, drift_x_key, drift_y_key = keys[0], keys[1], keys[2]
    m = tie_a.shape[0]
    dx = np.empty(m)
    dy = np.empty(m)
    for t in range(m):
        dx[t] = kx[tie_b[t]] - kx[tie_a[t]]
        dy[t] = ky[tie_b[t]] - ky[tie_a[t]]
    novelty = np.empty(m)
    for t in range(m):  # vectorised: no lookups
        d = math.sqrt(dx[t] * dx[t] + dy[t] * dy[t]) / optimal
        novelty[t] = d * vm.exp(1.0 - d)  # peaks at the optimal cognitive distance
    # hazard holds each firm's knowledge learned over ties, then its innovation hazard, then the
    # chance that it innovates.
    hazard = np.zeros(n)
    pull_x = np.zeros(n)
    pull_y = np.zeros(n)
    degree = np.zeros(n)
    for t in range(m):
        a, b = tie_a[t], tie_b[t]
        hazard[a] += novelty[t]
        hazard[b] += novelty[t]
        pull_x[a] += dx[t]
        pull_x[b] -= dx[t]
        pull_y[a] += dy[t]
        pull_y[b] -= dy[t]
        degree[a] += 1.0
        degree[b] += 1.0
    advice = np.empty(n)
    for r in range(n):  # the lookup apart, so that the next loop vectorises
        advice[r] = advisory_per_cluster[cluster[r]] if member[r] else 0.0
    for r in range(n):
        hazard[r] = (base_rate + rd_w * rd_effort[r] + spill_w * absorptive[r] * hazard[r]
                     + (inst_w if institution[r] >= 0 else 0.0) + support_innovation[r] + advice[r])
    for r in range(n):
        hazard[r] = 1.0 - vm.exp(-hazard[r])
    drift_x, drift_y = normals_of(drift_x_key, n), normals_of(drift_y_key, n)
    for r in range(n):
        deg = max(degree[r], 1.0)
        pull_x[r] = min(max(kx[r] + convergence * pull_x[r] / deg + drift_sd * drift_x[r], 0.0), 1.0)
        pull_y[r] = min(max(ky[r] + convergence * pull_y[r] / deg + drift_sd * drift_y[r], 0.0), 1.0)
    for r in range(n):
        innovated[r] = alive[r] & (unit(success_key, r) < hazard[r])
        kx[r] = pull_x[r] if alive[r] else kx[r]
        ky[r] = pull_y[r] if alive[r] else ky[r]


warm_up(innovate)
