"""Road distances between the region's cities, for the travel a moved case means.

The region file names each department's city but no distances, so the simulation keeps a
small table of approximate road distances (km, by the usual route, rounded) between the cities
of the packaged region. Two hospitals in the same city are taken to lie 6 km apart. A pair not
in the table has no known distance (``None``): the results say how many moves that left out.
"""

from __future__ import annotations

__all__ = ["ROAD_KM", "SAME_CITY_KM", "road_km"]

SAME_CITY_KM = 6.0
"""Between two hospitals in one city (HMC and HagaZiekenhuis in Den Haag)."""

ROAD_KM: dict[frozenset[str], float] = {
    frozenset(pair): km
    for pair, km in (
        (("Den Haag", "Leiden"), 19.0),
        (("Den Haag", "Leiderdorp"), 23.0),
        (("Den Haag", "Gouda"), 32.0),
        (("Den Haag", "Delft"), 12.0),
        (("Leiden", "Leiderdorp"), 4.0),
        (("Leiden", "Gouda"), 35.0),
        (("Leiden", "Delft"), 30.0),
        (("Leiderdorp", "Gouda"), 32.0),
        (("Leiderdorp", "Delft"), 32.0),
        (("Gouda", "Delft"), 35.0),
    )
}
"""Approximate road distances in km between the packaged region's cities."""


def road_km(city_a: str, city_b: str) -> float | None:
    """Road km from ``city_a`` to ``city_b``: 0 for the same department's city is the caller's
    business; same city -> :data:`SAME_CITY_KM`; unknown pair -> ``None``."""
    if city_a == city_b:
        return SAME_CITY_KM if city_a else None
    return ROAD_KM.get(frozenset((city_a, city_b)))
