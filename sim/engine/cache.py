"""Where numba keeps the machine code of the compiled modules.

numba checks a cached function against its own source file only: a kernel that inlines a
formula from :mod:`sim.engine.vecmath` would keep the old machine code after that formula
changed, and give outdated numbers without a word. So the cache lives in a folder named after a
hash of every module of :mod:`sim.engine` (the folder is the cache key); any change to one of
them starts a fresh cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import numba

HERE = Path(__file__).resolve().parent
SOURCES = tuple(sorted(HERE.glob("*.py")))  # every engine module: the compiled ones and what they inline


def cache_dir(sources: tuple[Path, ...] = SOURCES) -> Path:
    """The cache folder for the current sources.

    Args:
        sources: The source files whose compiled functions share the cache.

    Returns:
        ``sim/engine/__pycache__/numba-<first 16 hex digits of a SHA-256 of the sources>``.
    """
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.read_bytes())
    return HERE / "__pycache__" / f"numba-{digest.hexdigest()[:16]}"


@contextlib.contextmanager
def keyed_cache() -> Iterator[None]:
    """Cache the functions compiled inside this block in :func:`cache_dir`.

    A user's own ``NUMBA_CACHE_DIR`` is left alone, and so are the user's own functions compiled
    afterwards. Where the folder cannot be written, numba falls back to its usual places.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        yield
        return
    before = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(cache_dir())
    try:
        yield
    finally:
        numba.config.CACHE_DIR = before
