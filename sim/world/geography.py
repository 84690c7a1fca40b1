"""Distances between counties, for geographic proximity."""

from __future__ import annotations

import numpy as np

from sim.scenario.schema import Scenario

EARTH_RADIUS_KM = 6371.0


def region_distances_km(scn: Scenario) -> np.ndarray:
    """Great-circle distances between county centroids.

    Args:
        scn: The scenario, whose regions carry latitude and longitude.

    Returns:
        ``float64[regions, regions]`` in km, zero on the diagonal.
    """
    lat = np.radians([r.lat for r in scn.regions.values()])
    lon = np.radians([r.lon for r in scn.regions.values()])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    h = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h))
