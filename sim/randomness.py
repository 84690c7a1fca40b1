"""Random numbers that belong to a firm, a year and a purpose.

Two runs that differ in one policy should give each firm the same luck (common random numbers),
so that differences in outcomes come from the policy and not from reshuffled noise. A sequential
generator cannot promise that once the runs hold different firms. Here each number is a hash of
``(seed, purpose, year, firm row)`` (SplitMix64, Steele et al. 2014, the generator Java and
numpy use for seeding): firm ``r`` gets the same draw in every run, and only the rows asked for
are computed, however many firms have closed.
"""

from __future__ import annotations

import math
import zlib

import numba
import numpy as np
from numpy.random.bit_generator import ISeedSequence

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_UNIT = 2.0**-53
_MASK = 2**64 - 1
_GOLDEN_INT = 0x9E3779B97F4A7C15


def key(seed: int, name: str, year: int) -> np.uint64:
    """The hashed key of one purpose's draws in one year (a firm's number is ``unit(key, row)``)."""
    # Python integers: three scalar mixes cost microseconds, not numpy's scalar overhead.
    k = _mix_int((seed + _GOLDEN_INT) & _MASK)
    k = _mix_int(((k ^ zlib.crc32(name.encode())) + _GOLDEN_INT) & _MASK)
    return np.uint64(_mix_int(((k ^ year) + _GOLDEN_INT) & _MASK))


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
        words = np.array([_mix_int((self._key + (i + 1) * _GOLDEN_INT) & _MASK) for i in range(count)],
                         dtype=np.uint64)
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
    return np.random.Generator(np.random.PCG64(_HashedSeed(int(key(seed, f"stream:{name}", year)))))


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
def unit(key: np.uint64, row: np.int64) -> float:
    """SplitMix64 of ``key + (row + 1) * golden`` as a uniform in (0, 1), inside compiled code.

    Integer arithmetic wraps modulo 2^64, as SplitMix64 requires, so the numbers are the same
    on every machine. Phase kernels (:mod:`sim.kernels`) call this to draw a firm's number
    where they use it instead of passing arrays of uniforms around.
    """
    z = key + (np.uint64(row) + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    z = z ^ (z >> np.uint64(31))
    return (np.float64(z >> np.uint64(11)) + 0.5) * _UNIT


# Compiled when the module is imported (from numba's on-disk cache after the first time), so
# that no simulated year pays for compilation.
@numba.njit("float64[::1](uint64, int64[::1])", cache=True, nogil=True)
def _hashed_uniforms(key: np.uint64, rows: np.ndarray) -> np.ndarray:
    out = np.empty(rows.shape[0], dtype=np.float64)
    for i in range(rows.shape[0]):
        out[i] = unit(key, rows[i])
    return out


# Wichura's algorithm AS 241 (PPND16, Applied Statistics 37, 1988): the inverse normal
# distribution function to about 1e-16, as rational functions in three ranges.
_A = (3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3, 1.3731693765509461125e4,
      4.5921953931549871457e4, 6.7265770927008700853e4, 3.3430575583588128105e4, 2.5090809287301226727e3)
_B = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
      2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4, 5.2264952788528545610e3)
_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0, 3.64784832476320460504e0,
      1.27045825245236838258e0, 2.41780725177450611770e-1, 2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4, 1.05075007164441684324e-9)
_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0, 2.96560571828504891230e-1,
      2.65321895265761230930e-2, 1.24266094738807843860e-3, 2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7, 2.04426310338993978564e-15)


@numba.njit(inline="always")
def _poly(c: tuple, x: float) -> float:
    return ((((((c[7] * x + c[6]) * x + c[5]) * x + c[4]) * x + c[3]) * x + c[2]) * x + c[1]) * x + c[0]


@numba.njit(inline="always")
def ndtri(u: float) -> float:
    """The standard normal quantile of one uniform in (0, 1), inside compiled code."""
    q = u - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return q * _poly(_A, r) / _poly(_B, r)
    r = math.sqrt(-math.log(u if q < 0.0 else 1.0 - u))
    if r <= 5.0:
        r -= 1.6
        z = _poly(_C, r) / _poly(_D, r)
    else:
        r -= 5.0
        z = _poly(_E, r) / _poly(_F, r)
    return -z if q < 0.0 else z


@numba.njit("float64[::1](float64[::1])", cache=True, nogil=True)
def _normals(u: np.ndarray) -> np.ndarray:
    out = np.empty(u.shape[0], dtype=np.float64)
    for i in range(u.shape[0]):
        out[i] = ndtri(u[i])
    return out


def normal(u: np.ndarray) -> np.ndarray:
    """Standard normal numbers from uniforms (inverse distribution function, AS 241)."""
    return _normals(np.ascontiguousarray(u, dtype=np.float64))


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
