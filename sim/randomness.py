"""Random numbers that belong to a firm, a year and a purpose.

Two runs that differ in one policy should give each firm the same luck (common random numbers),
so that differences in outcomes come from the policy and not from reshuffled noise. A sequential
generator cannot promise that once the runs hold different firms. Here each number is a hash of
``(seed, purpose, year, firm row)`` (SplitMix64, Steele et al. 2014, the generator Java and
numpy use for seeding): firm ``r`` gets the same draw in every run, and only the rows asked for
are computed, however many firms have closed.
"""

from __future__ import annotations

import zlib

import numba
import numpy as np
from scipy.special import ndtri

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_UNIT = 2.0**-53
_MASK = 2**64 - 1
_GOLDEN_INT = 0x9E3779B97F4A7C15


def _key(seed: int, name: str, year: int) -> np.uint64:
    # Python integers: three scalar mixes cost microseconds, not numpy's scalar overhead.
    k = _mix_int((seed + _GOLDEN_INT) & _MASK)
    k = _mix_int(((k ^ zlib.crc32(name.encode())) + _GOLDEN_INT) & _MASK)
    return np.uint64(_mix_int(((k ^ year) + _GOLDEN_INT) & _MASK))


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
    return _hashed_uniforms(_key(seed, name, year), np.ascontiguousarray(rows, dtype=np.int64))


# Compiled when the module is imported (from numba's on-disk cache after the first time), so
# that no simulated year pays for compilation.
@numba.njit("float64[::1](uint64, int64[::1])", cache=True, nogil=True)
def _hashed_uniforms(key: np.uint64, rows: np.ndarray) -> np.ndarray:
    """SplitMix64 of ``key + (row + 1) * golden`` for each row, as a uniform in (0, 1).

    One compiled pass instead of a dozen numpy passes: a phase asks for a few dozen of these
    each year, and at 10,000 firms numpy's per-call cost dominated. Integer arithmetic wraps
    modulo 2^64, as SplitMix64 requires, so the numbers are the same on every machine.
    """
    out = np.empty(rows.shape[0], dtype=np.float64)
    for i in range(rows.shape[0]):
        z = key + (np.uint64(rows[i]) + np.uint64(1)) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
        out[i] = (np.float64(z >> np.uint64(11)) + 0.5) * _UNIT
    return out


def normal(u: np.ndarray) -> np.ndarray:
    """Standard normal numbers from uniforms (inverse distribution function)."""
    return ndtri(u)


def laplace(u: np.ndarray) -> np.ndarray:
    """Laplace(0, 1) numbers from uniforms."""
    v = u - 0.5
    return -np.sign(v) * np.log1p(-2.0 * np.abs(v))


def gumbel(u: np.ndarray) -> np.ndarray:
    """Standard Gumbel numbers from uniforms."""
    return -np.log(-np.log(u))


def poisson(u: np.ndarray, lam: np.ndarray | float) -> np.ndarray:
    """Poisson counts from uniforms by inverting the distribution function.

    Meant for the small means of this model (a few events a year): the loop runs once per
    possible count until every uniform is covered.

    Args:
        u: Uniforms.
        lam: Means, one per uniform or one for all.

    Returns:
        ``int64`` counts.
    """
    lam = np.array(np.broadcast_to(np.asarray(lam, dtype=np.float64), u.shape))  # writable, contiguous
    # exp by numpy, the rest compiled: the same floating-point steps as numpy's would take.
    return _invert_poisson(np.ascontiguousarray(u, dtype=np.float64), lam, np.exp(-lam))


@numba.njit("int64[::1](float64[::1], float64[::1], float64[::1])", cache=True, nogil=True)
def _invert_poisson(u: np.ndarray, lam: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Count up the Poisson distribution function from ``first = exp(-lam)`` until it covers ``u``."""
    k = np.zeros(u.shape[0], dtype=np.int64)
    for i in range(u.shape[0]):
        term = first[i]
        cdf = term
        n = 0
        # Round-off can leave cdf a hair below u in the far tail; stop when terms vanish.
        while u[i] > cdf and (n == 0 or term > 1e-300):
            n += 1
            term = term * lam[i] / n
            cdf = cdf + term
            k[i] += 1
    return k
