"""The collaboration network: undirected firm-firm ties held as edge arrays.

Ties are two int32 arrays of firm rows with ``a < b``; no Python object per tie. Helpers here
know nothing of economics: phases decide which ties form and which lapse.
"""

from __future__ import annotations

import numpy as np


class TieSet:
    """Undirected ties between firm rows, without duplicates or self-ties."""

    def __init__(self) -> None:
        self.a = np.empty(0, dtype=np.int32)
        self.b = np.empty(0, dtype=np.int32)

    def __len__(self) -> int:
        return len(self.a)

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the ties where ``mask`` is true."""
        self.a, self.b = self.a[mask], self.b[mask]

    def add(self, src: np.ndarray, dst: np.ndarray) -> int:
        """Add ties, dropping self-ties, duplicates and ties that already exist.

        Args:
            src: Firm rows at one end.
            dst: Firm rows at the other end.

        Returns:
            How many new ties were added.
        """
        lo, hi = np.minimum(src, dst), np.maximum(src, dst)
        ok = lo != hi
        keys = np.unique(_key(lo[ok], hi[ok]))
        keys = keys[~np.isin(keys, _key(self.a, self.b), assume_unique=True)]
        self.a = np.concatenate([self.a, (keys >> 32).astype(np.int32)])
        self.b = np.concatenate([self.b, (keys & 0xFFFFFFFF).astype(np.int32)])
        return len(keys)

    def degree(self, n: int) -> np.ndarray:
        """Number of ties of each of the first ``n`` firm rows."""
        return np.bincount(self.a, minlength=n) + np.bincount(self.b, minlength=n)

    def sort(self) -> None:
        """Order ties by (a, b) so outputs do not depend on the order ties formed in."""
        order = np.argsort(_key(self.a, self.b), kind="stable")
        self.a, self.b = self.a[order], self.b[order]


def _key(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return (lo.astype(np.int64) << 32) | hi.astype(np.int64)
