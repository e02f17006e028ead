"""Distances and scattering on the Earth's surface, good to a few metres at these scales."""

from __future__ import annotations

import math
import random

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def scatter(
    rng: random.Random, lat: float, lon: float, min_km: float, max_km: float
) -> tuple[float, float]:
    """A point between `min_km` and `max_km` from (lat, lon), rounded to 4 decimals (~10 m)."""
    bearing = rng.uniform(0, 2 * math.pi)
    km = rng.uniform(min_km, max_km)
    dlat = km * math.cos(bearing) / 111.32
    dlon = km * math.sin(bearing) / (111.32 * math.cos(math.radians(lat)))
    return round(lat + dlat, 4), round(lon + dlon, 4)


def interpolate(
    lat1: float, lon1: float, lat2: float, lon2: float, fraction: float
) -> tuple[float, float]:
    """The point `fraction` of the way along the straight line (fine within a state)."""
    return round(lat1 + (lat2 - lat1) * fraction, 4), round(lon1 + (lon2 - lon1) * fraction, 4)
