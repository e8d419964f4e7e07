"""Which pre-merger ward centroids in ``vietnamadminunits`` are not really the ward's own.

The package geocoded every old ward. When the geocoder could not find a ward it fell back to the
ward's district: the ward then carries the district's centroid (and bounding box), and so do its
fallen-back siblings, all at one point in whatever ward happens to hold the district centre
(194 wards nationwide; e.g. four communes of Quế Sơn district, and Hải Châu and Bình Thuận in old
Hải Châu district of Da Nang). Such a point says nothing about where the ward was, so the
approximate builder does not use it as a site.

One exception is kept: a ward named like its district (Phường Phú Mỹ in Thị xã Phú Mỹ). A geocode
of the district's name is as much a geocode of that ward's name, and the district centre of a
town usually lies in its namesake ward.
"""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

import vietnamadminunits


@functools.cache
def district_fallback_keys() -> frozenset[str]:
    """Old ward keys (``<province>_<district>_<ward>``) whose centroid is only their district's."""
    db = Path(vietnamadminunits.__file__).resolve().parent / "data" / "dataset.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT provinceKey, districtKey, wardKey FROM admin_units_legacy "
            "WHERE coalesce(wardKey, '') != '' AND wardLat = districtLat AND wardLon = districtLon "
            "AND wardShortKey != districtShortKey"
        ).fetchall()
    return frozenset(f"{province}_{district}_{ward}" for province, district, ward in rows)
