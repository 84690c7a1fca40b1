"""The collaboration network: undirected firm-firm ties held as edge arrays.

Ties are two int32 arrays of firm rows with ``a < b``, always ordered by ``(a, b)``, so outputs
never depend on the order ties formed in; no Python object per tie. Helpers here know nothing of
economics: phases decide which ties form and which lapse.
"""

from __future__ import annotations

import numpy as np

from sim.engine.network import keep_ties, merge_keys, tie_keys


class TieSet:
    """Undirected ties between firm rows, without duplicates or self-ties, ordered by ``(a, b)``."""

    def __init__(self) -> None:
        self._keys = np.empty(0, dtype=np.int64)
        self.a = np.empty(0, dtype=np.int32)
        self.b = np.empty(0, dtype=np.int32)

    def __len__(self) -> int:
        return len(self._keys)

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the ties where ``mask`` is true."""
        self._keys, self.a, self.b = keep_ties(self._keys, self.a, self.b, mask)

    def add(self, src: np.ndarray, dst: np.ndarray) -> int:
        """Add ties, dropping self-ties, duplicates and ties that already exist.

        Args:
            src: Firm rows at one end.
            dst: Firm rows at the other end.

        Returns:
            How many new ties were added.
        """
        return self.add_keys(tie_keys(np.ascontiguousarray(src, dtype=np.int64),
                                      np.ascontiguousarray(dst, dtype=np.int64)))

    def add_keys(self, keys: np.ndarray) -> int:
        """Add ties given by their keys; return how many were new.

        Keys are ``lo << 32 | hi`` (:func:`sim.engine.network.tie_keys`), in any order and with
        duplicates.
        """
        before = len(self._keys)
        self._keys, self.a, self.b = merge_keys(self._keys, np.sort(keys))
        return len(self._keys) - before

    @property
    def keys(self) -> np.ndarray:
        """The key of each tie, ``a << 32 | b`` (sorted)."""
        return self._keys

    def degree(self, n: int) -> np.ndarray:
        """Number of ties of each of the first ``n`` firm rows."""
        return np.bincount(self.a, minlength=n) + np.bincount(self.b, minlength=n)

