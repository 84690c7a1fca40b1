"""The network's kernels: tie keys, merging and keeping ties (:class:`sim.world.network.TieSet`)."""

from __future__ import annotations

import numba
import numpy as np

from sim.engine.jit import JIT, sig, warm_up, where


@numba.njit(sig("{I64}({I64}, {I64})"), **JIT)
def tie_keys(src, dst):
    """The key ``lo << 32 | hi`` of each tie ``src``-``dst`` (``lo < hi``), self-ties dropped."""
    out = np.empty(src.shape[0], dtype=np.int64)
    k = 0
    for i in range(src.shape[0]):
        lo, hi = min(src[i], dst[i]), max(src[i], dst[i])
        out[k] = (lo << 32) | hi
        k += lo != hi
    return out[:k]


@numba.njit(sig("Tuple(({I64}, {I32}, {I32}))({I64}, {I64})"), **JIT)
def merge_keys(known, new):
    """The sorted union of sorted unique tie keys ``known`` and sorted keys ``new``, with the two ends of each tie.

    Duplicates are dropped.
    """
    out = np.empty(known.shape[0] + new.shape[0], dtype=np.int64)
    i = j = n = 0
    while i < known.shape[0] or j < new.shape[0]:
        if j == new.shape[0] or (i < known.shape[0] and known[i] <= new[j]):
            v = known[i]
            i += 1
        else:
            v = new[j]
            j += 1
        if n == 0 or out[n - 1] != v:
            out[n] = v
            n += 1
    a, b = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32)
    for t in range(n):
        a[t], b[t] = out[t] >> 32, out[t] & 0xFFFFFFFF
    return out[:n].copy(), a, b


@numba.njit(sig("Tuple(({I64}, {I32}, {I32}))({I64}, {I32}, {I32}, {BOOL})"), **JIT)
def keep_ties(keys, tie_a, tie_b, mask):
    """The ties where ``mask`` is true, in order: their keys and both ends."""
    if mask.shape[0] != keys.shape[0]:
        raise ValueError("keep_ties: one mask entry per tie")
    kept = where(mask)
    return keys[kept], tie_a[kept], tie_b[kept]


@numba.njit(sig("{BOOL}({I32}, {I32}, {BOOL})"), **JIT)
def ties_between_open(tie_a, tie_b, alive):
    """Which ties join two open firms."""
    out = np.empty(tie_a.shape[0], dtype=np.bool_)
    for t in range(tie_a.shape[0]):
        out[t] = alive[tie_a[t]] & alive[tie_b[t]]
    return out


warm_up(tie_keys, merge_keys, keep_ties, ties_between_open)
