"""Plane geometry of zone polygons: inside tests and the checks that make a polygon usable.

Pure functions over ``(x, y)`` tuples, in whatever units the caller uses
(zones use fractions of the picture). A polygon is its corner points in order,
closed implicitly from the last back to the first.
"""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]


def contains(polygon: Sequence[Point], x: float, y: float) -> bool:
    """Whether ``(x, y)`` lies inside the polygon (even-odd rule; a point on an edge may fall either way)."""
    inside = False
    n = len(polygon)
    x1, y1 = polygon[n - 1]
    for x2, y2 in polygon:
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
        x1, y1 = x2, y2
    return inside


def area(polygon: Sequence[Point]) -> float:
    """Signed area (shoelace): positive when the points run counter-clockwise in a y-up frame."""
    n = len(polygon)
    return sum(polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1] for i in range(n)) / 2


def _orient(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def segments_meet(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether segments ab and cd share at least one point (crossing, touching or overlapping)."""
    o1, o2, o3, o4 = _orient(a, b, c), _orient(a, b, d), _orient(c, d, a), _orient(c, d, b)
    if ((o1 > 0 and o2 < 0) or (o1 < 0 and o2 > 0)) and ((o3 > 0 and o4 < 0) or (o3 < 0 and o4 > 0)):
        return True
    return (
        (o1 == 0 and _on_segment(a, b, c))
        or (o2 == 0 and _on_segment(a, b, d))
        or (o3 == 0 and _on_segment(c, d, a))
        or (o4 == 0 and _on_segment(c, d, b))
    )


def polygon_problem(polygon: Sequence[Point]) -> str | None:
    """Why the points do not make a simple polygon, in one line; ``None`` when they do.

    Points are named by their index (``points[2]``), as a zone file lists them.
    """
    n = len(polygon)
    if n < 3:
        return f"a polygon needs at least 3 points, got {n}"
    for i in range(n):
        for j in range(i + 1, n):
            if polygon[i] == polygon[j]:
                return f"points[{i}] and points[{j}] are the same point"
    if all(abs(_orient(polygon[0], polygon[1], p)) < 1e-12 for p in polygon[2:]):
        return "the points lie on one line: the polygon has no area"
    for i in range(n):
        a, b, c = polygon[i], polygon[(i + 1) % n], polygon[(i + 2) % n]
        # two edges in a row that fold back onto each other
        if _orient(a, b, c) == 0 and (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]) < 0:
            return f"the edges at points[{(i + 1) % n}] fold back onto each other: the polygon intersects itself"
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # neighbours through the closing edge
            c, d = polygon[j], polygon[(j + 1) % n]
            if segments_meet(a, b, c, d):
                return (
                    f"edge points[{i}]-points[{(i + 1) % n}] meets edge points[{j}]-points[{(j + 1) % n}]: "
                    "the polygon intersects itself"
                )
    if abs(area(polygon)) < 1e-12:
        return "the polygon has no area"
    return None
