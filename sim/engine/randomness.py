"""Random numbers that belong to a firm, a year and a purpose.

Two runs that differ in one policy should give each firm the same luck (common random numbers),
so that differences in outcomes come from the policy and not from reshuffled noise. A sequential
generator cannot promise that once the runs hold different firms. Here each number is a hash of
``(seed, purpose, year, firm row)`` (SplitMix64, Steele et al. 2014, the generator Java and
numpy use for seeding): firm ``r`` gets the same draw in every run, and only the rows asked for
are computed, however many firms have closed.
"""

from __future__ import annotations

import functools
import math
import zlib

import numba
import numpy as np
from numpy.random.bit_generator import ISeedSequence

from sim.engine import vecmath as vm
from sim.engine.jit import warm_up

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_UNIT = 2.0**-53
_MASK = 2**64 - 1
_GOLDEN_INT = 0x9E3779B97F4A7C15


def key(seed: int, name: str, year: int) -> np.uint64:
    """The hashed key of one purpose's draws in one year (a firm's number is ``unit(key, row)``)."""
    return np.uint64(_key_int(seed, name, year))


def keys(seed: int, names: tuple[str, ...], year: int) -> np.ndarray:
    """:func:`key` of several purposes at once, for the compiled phase kernels.

    Args:
        seed: The run's seed.
        names: The purposes.
        year: The simulated year.

    Returns:
        ``uint64[len(names)]``, equal to ``[key(seed, name, year) for name in names]``.
    """
    return _year_keys(_name_keys(seed, names), year)


@functools.lru_cache(maxsize=1024)
def _name_keys(seed: int, names: tuple[str, ...]) -> np.ndarray:
    return np.array([_name_key(seed, name) for name in names], dtype=np.uint64)  # shared: read only


def _key_int(seed: int, name: str, year: int) -> int:
    # Python integers: scalar mixes cost microseconds, not numpy's scalar overhead.
    return _mix_int(((_name_key(seed, name) ^ year) + _GOLDEN_INT) & _MASK)


@functools.lru_cache(maxsize=4096)
def _name_key(seed: int, name: str) -> int:
    """The year-independent part of :func:`key` (a run asks for the same few dozen names every year)."""
    k = _mix_int((seed + _GOLDEN_INT) & _MASK)
    return _mix_int(((k ^ zlib.crc32(name.encode())) + _GOLDEN_INT) & _MASK)


class _HashedSeed(ISeedSequence):
    """A seed for numpy's bit generators made of SplitMix64 words of one key.

    numpy's ``SeedSequence`` costs about 15 us to build; a year asks for a dozen named streams,
    so at 10,000 firms it was a tenth of the run. The words are as well mixed, and each depends
    only on (seed, name, year).
    """

    __slots__ = ("_key",)

    def __init__(self, key: int):
        self._key = key

    def generate_state(self, n_words: int, dtype: type = np.uint32) -> np.ndarray:
        """``n_words`` words of ``dtype`` (numpy's ``ISeedSequence`` interface)."""
        wide = np.dtype(dtype) == np.uint64
        count = n_words if wide else (n_words + 1) // 2
        words = _hashed_uniform_bits(np.uint64(self._key), count)
        return words if wide else words.view(np.uint32)[:n_words]


def generator(seed: int, name: str, year: int) -> np.random.Generator:
    """A PCG64 stream for one named draw in one year, independent of every other name and year.

    Args:
        seed: The run's seed.
        name: What the numbers are for.
        year: The simulated year (0 for draws made once).

    Returns:
        A generator that depends only on ``seed``, ``name`` and ``year``.
    """
    # A prefix keeps a stream apart from firm draws of the same name (their keys are the same hash).
    return np.random.Generator(np.random.PCG64(_HashedSeed(_key_int(seed, f"stream:{name}", year))))


def _mix_int(z: int) -> int:
    """SplitMix64's finaliser on one Python integer: a bijection that scrambles every bit."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def uniform(seed: int, name: str, year: int, rows: np.ndarray) -> np.ndarray:
    """Uniform numbers in (0, 1), one per row.

    Args:
        seed: The run's seed.
        name: The purpose of the draw, e.g. "growth.shock".
        year: The simulated year.
        rows: Firm rows.

    Returns:
        ``float64[len(rows)]``, each depending only on (seed, name, year, row).
    """
    return _hashed_uniforms(key(seed, name, year), np.ascontiguousarray(rows, dtype=np.int64))


@numba.njit(inline="always")
def _mix(z: np.uint64) -> np.uint64:
    """SplitMix64's finaliser (:func:`_mix_int`) in 64-bit words.

    The words wrap modulo 2^64 as it requires, so the bits are the same on every machine.
    """
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@numba.njit(inline="always")
def _splitmix(key: np.uint64, i: np.int64) -> np.uint64:
    """SplitMix64 of ``key + (i + 1) * golden``."""
    return _mix(key + (np.uint64(i) + np.uint64(1)) * _GOLDEN)


@numba.njit("uint64[::1](uint64[::1], int64)", cache=True, nogil=True)
def _year_keys(name_keys: np.ndarray, year: int) -> np.ndarray:
    # _key_int's arithmetic in 64-bit words, which wrap as its "& _MASK" does.
    out = np.empty(name_keys.shape[0], dtype=np.uint64)
    for i in range(name_keys.shape[0]):
        out[i] = _mix((name_keys[i] ^ np.uint64(year)) + _GOLDEN)
    return out


@numba.njit(inline="always")
def unit(key: np.uint64, row: np.int64) -> float:
    """A firm's uniform in (0, 1) for one key, inside compiled code.

    The phase kernels (one module per submodel in :mod:`sim.engine`) call this to draw a firm's number where they use it
    instead of passing arrays of uniforms around.
    """
    return (np.float64(_splitmix(key, row) >> np.uint64(11)) + 0.5) * _UNIT


@numba.njit("uint64[::1](uint64, int64)", cache=True, nogil=True)
def _hashed_uniform_bits(key: np.uint64, count: int) -> np.ndarray:
    """SplitMix64 of ``key + (i + 1) * golden`` for ``i < count``: the 64 bits behind :func:`unit`."""
    out = np.empty(count, dtype=np.uint64)
    for i in range(count):
        out[i] = _splitmix(key, i)
    return out


# Compiled when the module is imported (from numba's on-disk cache after the first time), so
# that no simulated year pays for compilation.
@numba.njit("float64[::1](uint64, int64[::1])", cache=True, nogil=True)
def _hashed_uniforms(key: np.uint64, rows: np.ndarray) -> np.ndarray:
    out = np.empty(rows.shape[0], dtype=np.float64)
    for i in range(rows.shape[0]):
        out[i] = unit(key, rows[i])
    return out


_BLOCK = 1024  # rows per block of normals: the scratch arrays stay in the first-level cache


@numba.njit(inline="always")
def _quantiles(u: np.ndarray, m: int, out: np.ndarray, start: int, tails: np.ndarray, tail_u: np.ndarray) -> None:
    """``out[start + i] = ndtri(u[i])`` for ``i < m``.

    The central formula for every number in a loop that vectorises, then the tail formula for the
    ~15 % outside the central range only, gathered into ``tail_u`` so that that loop vectorises too.
    """
    for i in range(m):
        out[start + i] = vm.ndtri_central(u[i])
    k = 0
    for i in range(m):  # the indices of the tail numbers, without a branch
        tails[k] = i
        k += vm.in_tail(u[i])
    for j in range(k):
        tail_u[j] = u[tails[j]]
    for j in range(k):
        tail_u[j] = vm.ndtri_tail(tail_u[j])
    for j in range(k):
        out[start + tails[j]] = tail_u[j]


@numba.njit("float64[::1](uint64, int64)", cache=True, nogil=True, error_model="numpy",
            fastmath={"nsz", "arcp", "contract", "afn"})
def normals_of(key: np.uint64, n: int) -> np.ndarray:
    """Each of the first ``n`` rows' standard normal number for one key, inside compiled code.

    ``ndtri(unit(key, row))``, in blocks (40 % faster than one loop of :func:`sim.engine.vecmath.ndtri`).
    """
    out = np.empty(n)
    u, tail_u = np.empty(_BLOCK), np.empty(_BLOCK)
    tails = np.empty(_BLOCK, dtype=np.int64)
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        for i in range(m):
            u[i] = unit(key, start + i)
        _quantiles(u, m, out, start, tails, tail_u)
    return out


@numba.njit("float64[::1](float64[::1])", cache=True, nogil=True, error_model="numpy",
            fastmath={"nsz", "arcp", "contract", "afn"})
def _normals(u: np.ndarray) -> np.ndarray:
    out = np.empty(u.shape[0])
    tail_u = np.empty(_BLOCK)
    tails = np.empty(_BLOCK, dtype=np.int64)
    for start in range(0, u.shape[0], _BLOCK):
        m = min(_BLOCK, u.shape[0] - start)
        _quantiles(u[start:start + m], m, out, start, tails, tail_u)
    return out


def normal(u: np.ndarray) -> np.ndarray:
    """Standard normal numbers from uniforms (inverse distribution function, AS 241)."""
    return _normals(np.ascontiguousarray(u, dtype=np.float64))


def laplace(u: np.ndarray) -> np.ndarray:
    """Laplace(0, 1) numbers from uniforms (inverse distribution function)."""
    return _laplaces(np.ascontiguousarray(u, dtype=np.float64))


@numba.njit(inline="always")
def laplace_of(u: float) -> float:
    """The Laplace(0, 1) quantile of one uniform, inside compiled code."""
    v = u - 0.5
    return -vm.log1p(-2.0 * abs(v)) * (1.0 if v > 0.0 else -1.0 if v < 0.0 else 0.0)


@numba.njit("float64[::1](float64[::1])", cache=True, nogil=True, error_model="numpy",
            fastmath={"nsz", "arcp", "contract", "afn"})
def _laplaces(u: np.ndarray) -> np.ndarray:
    out = np.empty(u.shape[0], dtype=np.float64)
    for i in range(u.shape[0]):
        out[i] = laplace_of(u[i])
    return out


def gumbel(u: np.ndarray) -> np.ndarray:
    """Standard Gumbel numbers from uniforms."""
    return -np.log(-np.log(u))


POISSON_TERMS = 12  # counts summed without branching; larger ones are counted on
_INVERSE = np.array([1.0 / max(k, 1) for k in range(POISSON_TERMS + 1)])


@numba.njit(inline="always")
def poisson_head(u: float, lam: float) -> int:
    """A Poisson count up to ``POISSON_TERMS`` by inverting the distribution function.

    Without branches, so that a loop of these vectorises; ``POISSON_TERMS`` means "that or more".
    """
    term = vm.exp(-lam)
    cdf = term
    n = 0
    for k in range(1, POISSON_TERMS + 1):
        n += 1 if u > cdf else 0
        term = term * lam * _INVERSE[k]
        cdf = cdf + term
    return n


@numba.njit(inline="always")
def poisson_tail(u: float, lam: float) -> int:
    """A Poisson count known to be at least ``POISSON_TERMS``, one term at a time."""
    term = vm.exp(-lam)
    cdf = term
    n = 0
    # Round-off can leave cdf a hair below u in the far tail; stop when terms vanish.
    while u > cdf and (n == 0 or term > 1e-300):
        n += 1
        term = term * lam / n
        cdf = cdf + term
    return n


@numba.njit(inline="always")
def poisson_count(u: float, lam: float) -> int:
    """A Poisson count by inverting the distribution function (small means)."""
    n = poisson_head(u, lam)
    return n if n < POISSON_TERMS else poisson_tail(u, lam)


def poisson(u: np.ndarray, lam: np.ndarray | float) -> np.ndarray:
    """Poisson counts from uniforms by inverting the distribution function.

    Args:
        u: Uniforms.
        lam: Means, one per uniform or one for all.

    Returns:
        ``int64`` counts.
    """
    lam = np.array(np.broadcast_to(np.asarray(lam, dtype=np.float64), u.shape))  # writable, contiguous
    return _poisson_counts(np.ascontiguousarray(u, dtype=np.float64), lam)


@numba.njit("int64[::1](float64[::1], float64[::1])", cache=True, nogil=True, error_model="numpy",
            fastmath={"nsz", "arcp", "contract", "afn"})
def _poisson_counts(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    out = np.empty(u.shape[0], dtype=np.int64)
    for i in range(u.shape[0]):
        out[i] = poisson_count(u[i], lam[i])
    return out


def beta(key: np.uint64, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Beta(a, b) numbers as ratios of gamma numbers drawn from one hashed key.

    Each gamma is Marsaglia and Tsang's (2000) squeeze for shape ``s + 1``, times ``U**(1/s)``
    for shape ``s`` (their boost, which works for any ``s > 0``). One attempt per number runs
    as a loop that vectorises; the few rejected ones (under 5 %) try again one at a time.
    numpy's ``Generator.beta`` costs about 90 ns a number and 15-25 us a call; this about
    70 ns and 6 us, which counts for the small batches of start-ups made every year.

    Args:
        key: A 64-bit key (e.g. ``rng.bit_generator.random_raw()``); the numbers depend only
            on it and the shapes.
        a, b: Positive shapes, one pair per number.

    Returns:
        ``float64`` numbers in [0, 1].
    """
    return betas_of(np.uint64(key), np.ascontiguousarray(a, dtype=np.float64),
                    np.ascontiguousarray(b, dtype=np.float64))


@numba.njit(inline="always")
def _gamma_try(shape: float, z: float, u: float) -> tuple[float, bool]:
    """One Marsaglia-Tsang attempt at a Gamma(shape >= 1) number from a normal and a uniform."""
    d = shape - 1.0 / 3.0
    v = 1.0 + z / math.sqrt(9.0 * d)
    v3 = v * v * v
    accept = (v > 0.0) & (vm.log(u) < 0.5 * z * z + d - d * v3 + d * vm.log(max(v3, 1e-300)))
    return d * v3, accept


@numba.njit(inline="always")
def _gamma_retry(key: np.uint64, slot: int, shape: float) -> float:
    """Attempts 2, 3, ... at the Gamma(shape >= 1) number of one slot, until one is accepted."""
    attempt = 2
    while True:
        k = _splitmix(key, attempt)
        x, accept = _gamma_try(shape, vm.ndtri(unit(k, 2 * slot)), unit(k, 2 * slot + 1))
        if accept:
            return x
        attempt += 1


@numba.njit("float64[::1](uint64, float64[::1], float64[::1])", cache=True, nogil=True, error_model="numpy",
            fastmath={"nsz", "arcp", "contract", "afn"})
def betas_of(key: np.uint64, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`beta` inside compiled code."""
    # Slots 2i and 2i + 1 are number i's two gammas; attempt j draws from the key mixed with j,
    # and the boost's uniforms from the key mixed with 0. In blocks, as normals_of: the scratch
    # arrays stay in the first-level cache, and a large batch allocates only its result.
    n = a.shape[0]
    boost, first = _splitmix(key, 0), _splitmix(key, 1)
    out = np.empty(n)
    ga, gb, za, zb = np.empty(_BLOCK), np.empty(_BLOCK), np.empty(_BLOCK), np.empty(_BLOCK)
    ua, ub = np.empty(_BLOCK), np.empty(_BLOCK)
    ok_a, ok_b = np.empty(_BLOCK, dtype=np.bool_), np.empty(_BLOCK, dtype=np.bool_)
    tails, tail_u = np.empty(_BLOCK, dtype=np.int64), np.empty(_BLOCK)
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        for k in range(m):
            i = start + k
            ua[k], ub[k] = unit(first, 4 * i), unit(first, 4 * i + 2)
        _quantiles(ua, m, za, 0, tails, tail_u)  # ndtri of each
        _quantiles(ub, m, zb, 0, tails, tail_u)
        for k in range(m):
            i = start + k
            ga[k], ok_a[k] = _gamma_try(a[i] + 1.0, za[k], unit(first, 4 * i + 1))
            gb[k], ok_b[k] = _gamma_try(b[i] + 1.0, zb[k], unit(first, 4 * i + 3))
        for k in range(m):
            i = start + k
            if not ok_a[k]:
                ga[k] = _gamma_retry(key, 2 * i, a[i] + 1.0)
            if not ok_b[k]:
                gb[k] = _gamma_retry(key, 2 * i + 1, b[i] + 1.0)
        for k in range(m):  # x / (x + y) from the logarithms: x alone underflows for tiny shapes
            i = start + k
            log_x = vm.log(ga[k]) + vm.log(unit(boost, 2 * i)) / a[i]
            log_y = vm.log(gb[k]) + vm.log(unit(boost, 2 * i + 1)) / b[i]
            out[i] = 1.0 / (1.0 + vm.exp(log_y - log_x))
    return out


warm_up(_year_keys, _hashed_uniforms, _hashed_uniform_bits, _normals, normals_of, _laplaces, _poisson_counts, betas_of)
