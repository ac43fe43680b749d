"""Regenerate ``gridsim/data/borders.json`` from Natural Earth admin-0 1:110m.

The shapefile is the ``naturalearth_lowres`` data set shipped in the geopandas 0.14.4
wheel (``geopandas/datasets/naturalearth_lowres/``); geopandas itself is not needed::

    python docs/study/make_borders.py path/to/naturalearth_lowres > gridsim/data/borders.json

Each country's rings are clipped to the study region (Sutherland–Hodgman against the
box), rounded to 0.01 degree and simplified (Douglas–Peucker, 0.03 degree).
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

BOX = (12.0, 34.0, 52.0, 50.0)  # lon min, lat min, lon max, lat max
TOLERANCE = 0.03  # degree


def read_dbf(path: Path) -> list[dict]:
    data = path.read_bytes()
    n, header, size = struct.unpack("<IHH", data[4:12])
    fields = []
    for i in range(32, header - 1, 32):
        f = data[i : i + 32]
        fields.append((f[:11].split(b"\0")[0].decode(), f[16]))
    rows = []
    for k in range(n):
        rec = data[header + k * size + 1 : header + (k + 1) * size]
        row, pos = {}, 0
        for name, width in fields:
            row[name] = rec[pos : pos + width].decode("latin-1").strip()  # the .cpg: ISO-8859-1
            pos += width
        rows.append(row)
    return rows


def read_shp(path: Path) -> list[list[list[tuple[float, float]]]]:
    data = path.read_bytes()
    pos, shapes = 100, []
    while pos < len(data):
        _, length = struct.unpack(">II", data[pos : pos + 8])
        rec = data[pos + 8 : pos + 8 + 2 * length]
        pos += 8 + 2 * length
        kind = struct.unpack("<i", rec[:4])[0]
        if kind != 5:  # polygon
            shapes.append([])
            continue
        nparts, npoints = struct.unpack("<ii", rec[36:44])
        parts = list(struct.unpack(f"<{nparts}i", rec[44 : 44 + 4 * nparts])) + [npoints]
        base = 44 + 4 * nparts
        pts = [struct.unpack_from("<dd", rec, base + 16 * i) for i in range(npoints)]
        shapes.append([pts[parts[i] : parts[i + 1]] for i in range(nparts)])
    return shapes


def clip(ring, box):
    """Sutherland–Hodgman: the part of a closed ring inside the box."""
    x0, y0, x1, y1 = box
    edges = [
        (lambda p: p[0] >= x0, lambda a, b: _cut_x(a, b, x0)),
        (lambda p: p[0] <= x1, lambda a, b: _cut_x(a, b, x1)),
        (lambda p: p[1] >= y0, lambda a, b: _cut_y(a, b, y0)),
        (lambda p: p[1] <= y1, lambda a, b: _cut_y(a, b, y1)),
    ]
    out = list(ring)
    for inside, cut in edges:
        src, out = out, []
        for i, cur in enumerate(src):
            prev = src[i - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(cut(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cut(prev, cur))
        if not out:
            return []
    return out


def _cut_x(a, b, x):
    t = (x - a[0]) / (b[0] - a[0])
    return (x, a[1] + t * (b[1] - a[1]))


def _cut_y(a, b, y):
    t = (y - a[1]) / (b[1] - a[1])
    return (a[0] + t * (b[0] - a[0]), y)


def simplify(pts, tol):
    """Douglas–Peucker on an open polyline."""
    if len(pts) < 3:
        return pts
    (ax, ay), (bx, by) = pts[0], pts[-1]
    dx, dy = bx - ax, by - ay
    norm = (dx * dx + dy * dy) ** 0.5
    best, k = -1.0, 0
    for i in range(1, len(pts) - 1):
        px, py = pts[i]
        if norm:
            d = abs(dy * (px - ax) - dx * (py - ay)) / norm
        else:
            d = ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
        if d > best:
            best, k = d, i
    if best <= tol:
        return [pts[0], pts[-1]]
    return simplify(pts[: k + 1], tol)[:-1] + simplify(pts[k:], tol)


def main(folder: str) -> None:
    folder = Path(folder)
    rows = read_dbf(folder / "naturalearth_lowres.dbf")
    shapes = read_shp(folder / "naturalearth_lowres.shp")
    countries = []
    for row, rings in zip(rows, shapes, strict=True):
        kept = []
        for ring in rings:
            part = clip(ring, BOX)
            if len(part) < 3:
                continue
            part = simplify(part + [part[0]], TOLERANCE)
            part = [(round(x, 2), round(y, 2)) for x, y in part]
            part = [p for i, p in enumerate(part) if i == 0 or p != part[i - 1]]
            if len(part) >= 4:
                kept.append(part)
        if kept:
            countries.append({"name": row["name"], "iso_a3": row["iso_a3"], "rings": kept})
    doc = {
        "source": "Natural Earth admin-0 countries 1:110m "
        "(naturalearth_lowres of geopandas 0.14.4)",
        "licence": "public domain (https://www.naturalearthdata.com/about/terms-of-use/)",
        "bbox": list(BOX),
        "countries": countries,
    }
    json.dump(doc, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
