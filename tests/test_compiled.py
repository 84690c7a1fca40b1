"""Compiled code is cached under a name that changes with any compiled module's source."""

import os

import numba
import pytest

from sim import compiled, kernels, randomness


def test_the_cache_folder_changes_when_any_compiled_source_changes(tmp_path):
    sources = tuple(tmp_path / name for name in compiled.SOURCES)
    for path in sources:
        path.write_text(f"# {path.name}\n")
    first = compiled.cache_dir(sources)
    assert compiled.cache_dir(sources) == first
    sources[0].write_text("# vecmath.py, a formula changed\n")  # a dependency, not the kernels' own file
    assert compiled.cache_dir(sources) != first
    assert first.parent == compiled.HERE / "__pycache__"


@pytest.mark.skipif(bool(os.environ.get("NUMBA_CACHE_DIR")), reason="a user-set NUMBA_CACHE_DIR is left alone")
def test_kernels_and_random_numbers_are_cached_in_the_source_keyed_folder_and_the_setting_restored():
    folder = str(compiled.cache_dir())
    assert kernels.grow._cache._cache_path.startswith(folder)
    assert randomness.normals_of._cache._cache_path.startswith(folder)
    assert numba.config.CACHE_DIR == ""  # a user's own functions cache where numba usually puts them
