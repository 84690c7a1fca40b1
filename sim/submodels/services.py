"""The services a cluster organisation gives its members, as the kernels take them."""

from __future__ import annotations

import numpy as np


def per_cluster_array(values: np.ndarray) -> np.ndarray:
    """A per-cluster parameter as the kernels take it (one slot even with no clusters)."""
    return np.ascontiguousarray(values if len(values) else np.zeros(1), dtype=np.float64)
