"""How the engine compiles: numba's options, signatures, warm-up and the helpers every kernel inlines.

Every kernel reads and writes the firm columns in place, takes scalar parameters by name, and
draws each firm's random numbers from its hashed key (:func:`sim.engine.randomness.unit`), so the
numbers are those :meth:`sim.model.ClusterModel.uniform` gives. A phase that is a dozen numpy
expressions makes a dozen passes over memory and pays numpy's call cost for each; at 10,000 firms
those costs, not the arithmetic, were most of a year, hence loops that numba compiles when a
module is imported (from its on-disk cache after the first time, see :mod:`sim.engine.cache`).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types

JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": {"nsz", "arcp", "contract", "afn"}}
#: Options of the kernels that sum what numpy summed before (result tables, recruitment): no fast-math, so
#: a multiply and an add are not contracted into one instruction and the sums are numpy's bits. (Higher
#: powers are products of squares, exact on any processor; numpy's ``x ** 4`` calls a ``pow`` whose last bit
#: is the processor's and its library's.)
EXACT = {"cache": True, "nogil": True, "error_model": "numpy"}
# Explicit signatures compile (or load from the cache) at import, not in a simulated year; the
# types are those of sim.world.firms.SCHEMA, as strings for :func:`sig`.
_COLUMNS = {"F64": "float64[::1]", "I16": "int16[::1]", "I32": "int32[::1]", "I64": "int64[::1]",
            "BOOL": "boolean[::1]"}
# The same as type objects, for signatures that hold a named bundle (a string cannot name one).
F64, I16, I32, I64 = types.float64[::1], types.int16[::1], types.int32[::1], types.int64[::1]
BOOL = types.boolean[::1]
F2, KEYS = types.float64[:, ::1], types.uint64[::1]


def sig(text: str) -> str:
    """A numba signature with the firm columns' array types written short.

    Args:
        text: The signature, with ``{F64}`` for float64, ``{I16}`` int16, ``{I32}`` int32, ``{I64}``
            int64 and ``{BOOL}`` boolean contiguous arrays.

    Returns:
        The signature numba reads.
    """
    for short, full in _COLUMNS.items():
        text = text.replace(f"{{{short}}}", full)
    return text


def bundle(cls: type) -> types.Type:
    """The numba type of a named bundle of floats (a ``NamedTuple`` class), for signatures."""
    return numba.typeof(cls(*(0.0,) * len(cls._fields)))


@numba.njit(inline="always")
def where(flags):
    """The indices of the true entries of ``flags``, in order, found without a branch.

    A branch on a test that holds at random would be mispredicted every other time; instead each
    index is written where the next true one goes. Loops that test as they gather (searches,
    members) do the same in place.
    """
    out = np.empty(flags.shape[0], dtype=np.int64)
    k = 0
    for i in range(flags.shape[0]):
        out[k] = i
        k += flags[i]
    return out[:k]


@numba.njit(inline="always")
def by_group(pool, group_of, n_groups):
    """``pool`` ordered by group (pool order kept within a group) and where each group starts."""
    m = pool.shape[0]
    group = np.empty(m, dtype=np.int64)
    for i in range(m):
        group[i] = group_of[pool[i]]
    # Four tallies in turn: consecutive increments of one counter would wait on each other.
    tallies = np.zeros((4, n_groups), dtype=np.int64)
    for i in range(m):
        tallies[i & 3, group[i]] += 1
    start = np.zeros(n_groups + 1, dtype=np.int64)
    for g in range(n_groups):
        start[g + 1] = start[g] + tallies[0, g] + tallies[1, g] + tallies[2, g] + tallies[3, g]
    fill = start[:-1].copy()
    ordered = np.empty(m, dtype=np.int64)
    for i in range(m):  # a stable counting sort
        ordered[fill[group[i]]] = pool[i]
        fill[group[i]] += 1
    return ordered, start


@numba.njit(inline="always")
def pick(ordered, start, g, u):
    """The member of group ``g`` at position ``floor(u * size)``, or -1 if the group is empty."""
    first, count = start[g], start[g + 1] - start[g]  # start[g] read once: twice was 60 % slower
    return ordered[first + min(int(u * count), count - 1)] if count > 0 else -1


def warm_up(*dispatchers: numba.core.registry.CPUDispatcher) -> None:
    """Call each compiled function once on small dummy arguments of its signatures.

    numba links machine code loaded from its cache on the first call, 0.1-0.5 ms a function; a
    run would otherwise pay that in its first year. Arrays are eight zeros (floats eight ones),
    integers 4, floats 0.5, tuples ones and generators numpy's default: with counts below the
    arrays' length, every index a kernel derives stays inside them (tests/test_compiled.py imports
    with bounds checks on).
    """
    for dispatcher in dispatchers:
        for signature in dispatcher.signatures:
            dispatcher(*[_dummy(t) for t in signature])


def _dummy(t: types.Type) -> object:
    if isinstance(t, types.Array):
        dtype = numba.np.numpy_support.as_dtype(t.dtype)
        return np.full((8,) * t.ndim, 1 if dtype.kind == "f" else 0, dtype=dtype)
    if isinstance(t, types.BaseNamedTuple):  # a named bundle of parameters
        return t.instance_class(*(_dummy(field) for field in t.types))
    if isinstance(t, types.UniTuple):
        return (1.0,) * t.count
    if isinstance(t, types.Integer):  # keys are numpy uint64; counts and years Python ints
        return np.uint64(4) if not t.signed else 4
    if isinstance(t, types.NumPyRandomGeneratorType):
        return np.random.default_rng(0)
    return 0.5  # a share strictly inside (0, 1): some kernels divide by 1 minus one
