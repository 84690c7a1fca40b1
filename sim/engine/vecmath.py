"""Exponential, logarithm and normal quantile as inline arithmetic, so compiled loops vectorise.

numba calls the C library for ``math.exp`` and ``math.log``, one number at a time: the phase
kernels spent most of their time there. These versions are polynomials and bit operations that
LLVM turns into SIMD instructions (8 numbers at once with AVX-512), accurate to a few units in
the last place over the ranges the model uses, and the same on every run of a machine.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two for an exact range reduction
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_SQRT2 = 1.41421356237309504880
_MANTISSA = (1 << 52) - 1
_INLINE = {"inline": "always", "error_model": "numpy", "fastmath": {"nsz", "arcp", "contract", "afn"}}


@intrinsic
def _float_from_bits(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _bits_from_float(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


_EXP = tuple(1.0 / math.factorial(k) for k in range(14))  # Taylor coefficients of e**r
_ATANH = tuple(1.0 / (2 * k + 1) for k in range(12))  # atanh(s) / s as a series in s**2


@numba.njit(**_INLINE)
def _poly(c: tuple, x: float) -> float:
    """``c[0] + c[1] x + c[2] x**2 + ...`` by Horner's rule (the loop unrolls: ``c`` is a constant tuple)."""
    p = c[-1]
    for k in range(len(c) - 2, -1, -1):
        p = p * x + c[k]
    return p


@numba.njit(**_INLINE)
def exp(x: float) -> float:
    """``e**x`` (clamped to the normal floating-point range): ``2**k * e**r`` with ``|r| <= ln2 / 2``."""
    x = min(max(x, -708.0), 709.0)
    k = math.floor(x * _INV_LN2 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    # Taylor series to r**13 / 13!: the remainder is below 1e-17 of the result.
    p = _poly(_EXP, r)
    return p * _float_from_bits((np.int64(k) + 1023) << 52)


@numba.njit(**_INLINE)
def log(x: float) -> float:
    """Natural logarithm of a positive normal number: ``e ln2 + 2 atanh((m - 1) / (m + 1))``."""
    bits = _bits_from_float(x)
    e = (bits >> 52) - 1023
    m = _float_from_bits((bits & _MANTISSA) | (np.int64(1023) << 52))  # in [1, 2)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1 if big else e
    s = (m - 1.0) / (m + 1.0)  # |s| <= 0.172
    s2 = s * s
    # atanh series to s**23: the remainder is below 1e-18.
    p = _poly(_ATANH, s2)
    return e * _LN2_HI + (e * _LN2_LO + 2.0 * s * p)


@numba.njit(**_INLINE)
def log1p(y: float) -> float:
    """``log(1 + y)`` for ``y > -1``, accurate also for small ``y``.

    ``1 + y`` rounds to ``u``; the first-order correction ``(y - (u - 1)) / u`` restores what the
    rounding lost (to within 4e-16 relative), without Goldberg's branch on ``u == 1``, so
    that a loop of these vectorises.
    """
    u = 1.0 + y
    return log(u) - ((u - 1.0) - y) / u


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




BLOCK = 1024  # rows per block of a kernel's scratch arrays: they stay in the first-level cache
_CENTRAL_HALF_WIDTH = 0.425  # AS 241's central range: |u - 1/2| <= 0.425


@numba.njit(**_INLINE)
def ndtri_central(u: float) -> float:
    """The standard normal quantile of ``u`` with ``|u - 1/2| <= 0.425`` (AS 241's first range)."""
    q = u - 0.5
    r = 0.180625 - q * q
    return q * _poly(_A, r) / _poly(_B, r)


@numba.njit(**_INLINE)
def in_tail(u: float) -> bool:
    """Whether ``u`` lies outside the central range, where :func:`ndtri_tail` applies."""
    return abs(u - 0.5) > _CENTRAL_HALF_WIDTH


@numba.njit(**_INLINE)
def ndtri_tail(u: float) -> float:
    """The standard normal quantile of ``u`` with ``|u - 1/2| > 0.425`` (AS 241's other two ranges)."""
    t = math.sqrt(-log(min(u, 1.0 - u)))
    near = _poly(_C, t - 1.6) / _poly(_D, t - 1.6)
    far = _poly(_E, t - 5.0) / _poly(_F, t - 5.0)
    tail = near if t <= 5.0 else far
    return -tail if u < 0.5 else tail


@numba.njit(**_INLINE)
def ndtri(u: float) -> float:
    """The standard normal quantile of ``u`` in (0, 1).

    All three ranges are computed and one is selected, so that a loop of these vectorises
    (:func:`sim.engine.randomness.normals_of` computes the tails only where they are needed).
    """
    return ndtri_tail(u) if in_tail(u) else ndtri_central(u)


@numba.njit(**_INLINE)
def ndtri_into(u: np.ndarray, m: int, out: np.ndarray, tails: np.ndarray, tail_u: np.ndarray) -> None:
    """``out[i] = ndtri(u[i])`` for ``i < m`` (``m`` at most the scratch arrays' length, e.g. :data:`BLOCK`).

    The central formula for every number in a loop that vectorises, then the tail formula for the
    ~15 % outside the central range only, gathered into ``tail_u`` so that that loop vectorises
    too: the numbers of :func:`ndtri` (and of :func:`sim.engine.randomness.normals_of`, which does
    the same for consecutive rows), 40 % faster than a loop of it.
    """
    for i in range(m):
        out[i] = ndtri_central(u[i])
    k = 0
    for i in range(m):  # the indices of the tail numbers, without a branch
        tails[k] = i
        k += in_tail(u[i])
    for j in range(k):
        tail_u[j] = u[tails[j]]
    for j in range(k):
        tail_u[j] = ndtri_tail(tail_u[j])
    for j in range(k):
        out[tails[j]] = tail_u[j]
