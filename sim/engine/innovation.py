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
from sim.engine.jit import BOOL, F64, I32, JIT, KEYS, bundle, warm_up, where
from sim.engine.randomness import unit


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
    # Each row's knowledge learned over ties, pulls toward its partners and ties, side by side: a
    # tie's ends are rows at random, and one cache line holds all four sums of a row.
    learned = np.zeros((n, 4))
    for t in range(m):
        a, b = tie_a[t], tie_b[t]
        learned[a, 0] += novelty[t]
        learned[b, 0] += novelty[t]
        learned[a, 1] += dx[t]
        learned[b, 1] -= dx[t]
        learned[a, 2] += dy[t]
        learned[b, 2] -= dy[t]
        learned[a, 3] += 1.0
        learned[b, 3] += 1.0
    # Then the open rows only (closed ones keep their position and lose their innovation), in
    # blocks whose columns are gathered first: a block's scratch arrays stay in the first-level
    # cache, and every loop of a formula runs over them without a lookup, so it vectorises.
    for r in range(n):
        innovated[r] = innovated[r] & alive[r]
    rows = where(alive[:n])
    n_open = rows.shape[0]
    chance, x, y, u = np.empty(vm.BLOCK), np.empty(vm.BLOCK), np.empty(vm.BLOCK), np.empty(vm.BLOCK)
    drift_x, drift_y, tail_u = np.empty(vm.BLOCK), np.empty(vm.BLOCK), np.empty(vm.BLOCK)
    tails = np.empty(vm.BLOCK, dtype=np.int64)
    for start in range(0, n_open, vm.BLOCK):
        m_block = min(vm.BLOCK, n_open - start)
        block = rows[start:start + m_block]
        for i in range(m_block):  # the lookups
            r = block[i]
            advice = advisory_per_cluster[cluster[r]] if member[r] else 0.0
            chance[i] = (base_rate + rd_w * rd_effort[r] + spill_w * absorptive[r] * learned[r, 0]
                         + (inst_w if institution[r] >= 0 else 0.0) + support_innovation[r] + advice)
        for i in range(m_block):
            chance[i] = 1.0 - vm.exp(-chance[i])
        for i in range(m_block):
            u[i] = unit(drift_x_key, block[i])
        vm.ndtri_into(u, m_block, drift_x, tails, tail_u)
        for i in range(m_block):
            u[i] = unit(drift_y_key, block[i])
        vm.ndtri_into(u, m_block, drift_y, tails, tail_u)
        for i in range(m_block):
            r = block[i]
            deg = max(learned[r, 3], 1.0)
            x[i] = min(max(kx[r] + convergence * learned[r, 1] / deg + drift_sd * drift_x[i], 0.0), 1.0)
            y[i] = min(max(ky[r] + convergence * learned[r, 2] / deg + drift_sd * drift_y[i], 0.0), 1.0)
        for i in range(m_block):
            r = block[i]
            innovated[r] = unit(success_key, r) < chance[i]
            kx[r], ky[r] = x[i], y[i]


warm_up(innovate)
