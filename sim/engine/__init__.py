"""All compiled code: the kernels behind the submodels, inline maths and hashed random numbers.

One module per submodel holds its kernels (:mod:`~sim.engine.growth`, :mod:`~sim.engine.innovation`,
...), beside the shared pieces: :mod:`~sim.engine.jit` (numba's options, signatures, warm-up),
:mod:`~sim.engine.vecmath` (inline exp, log and normal quantiles) and :mod:`~sim.engine.randomness`
(each firm's hashed draws). Every module here is compiled into one cache whose folder is named
after the hash of this folder's sources (:mod:`~sim.engine.cache`), so they are all imported here,
inside that cache, before anything else can import one of them.
"""

from sim.engine.cache import keyed_cache

with keyed_cache():
    from sim.engine import (  # noqa: F401 - compiled and warmed up at import
        collaboration,
        demography,
        dynamics,
        growth,
        innovation,
        membership,
        network,
        population,
        randomness,
        register,
    )
