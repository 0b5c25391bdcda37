"""Rasterisation and box helpers in pixel space (pure numpy, scipy for labelling).

Coordinate conventions used throughout medmine's spatial metrics:

* Points and polygon vertices are ``(x, y)`` floats in *pixel-edge* coordinates: the image
  covers ``[0, width] x [0, height]``, pixel ``(row r, column c)`` is the unit square
  ``[c, c + 1] x [r, r + 1]`` and its centre is ``(c + 0.5, r + 0.5)``.
* Boxes are ``(x0, y0, x1, y1)`` in the same coordinates; ``x1`` / ``y1`` are exclusive pixel
  edges, so the box of a single pixel ``(r, c)`` is ``(c, r, c + 1, r + 1)``.
* A pixel belongs to a rasterised shape when its **centre** lies inside the shape. Centres lying
  exactly on a boundary follow a half-open rule: inside on left/top edges, outside on right/bottom
  edges (so ``rasterize_box((0, 0, 2, 2), ...)`` covers exactly 2 x 2 pixels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "box_iou",
    "box_iou_matrix",
    "mask_to_box",
    "mask_to_polygons",
    "rasterize_box",
    "rasterize_polygon",
]

Box = tuple[float, float, float, float]


def _check_shape(height: int, width: int) -> tuple[int, int]:
    """Validate an image size and return it as plain ints."""
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(height), int(width)


def _as_box(box: Sequence[float] | np.ndarray, name: str = "box") -> np.ndarray:
    """Validate one ``(x0, y0, x1, y1)`` box and return it as a float64 array."""
    arr = np.asarray(box, dtype=np.float64)
    if arr.shape != (4,):
        raise ValueError(f"{name} must have 4 numbers (x0, y0, x1, y1), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite coordinates: {arr.tolist()}")
    if arr[2] < arr[0] or arr[3] < arr[1]:
        raise ValueError(f"{name} must satisfy x1 >= x0 and y1 >= y0, got {arr.tolist()}")
    return arr


def _as_boxes(boxes: np.ndarray | Sequence[Sequence[float]], name: str) -> np.ndarray:
    """Validate an ``(N, 4)`` array of xyxy boxes and return it as float64."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite coordinates")
    bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"{name}[{i}] must satisfy x1 >= x0 and y1 >= y0, got {arr[i].tolist()}")
    return arr


def _is_degenerate(pts: np.ndarray) -> bool:
    """True when the vertices span no area (fewer than 3 distinct points or all collinear)."""
    if pts.shape[0] < 3:
        return True
    centred = pts - pts[0]
    scale = float(np.max(np.abs(centred)))
    if scale == 0.0:
        return True
    far = centred[int(np.argmax(np.hypot(centred[:, 0], centred[:, 1])))]
    cross = centred[:, 0] * far[1] - centred[:, 1] * far[0]
    return bool(np.max(np.abs(cross)) <= 1e-12 * scale * scale)


def rasterize_polygon(
    points: np.ndarray | Sequence[Sequence[float]], height: int, width: int
) -> np.ndarray:
    """Rasterise a polygon into a ``(height, width)`` boolean mask.

    ``points`` is an ``(N, 2)`` array of ``(x, y)`` vertices in pixel-edge coordinates. The
    polygon may be open or closed (a repeated first vertex adds a zero-length edge, which is
    ignored). Pixel ``(r, c)`` is set when its centre ``(c + 0.5, r + 0.5)`` is inside by the
    even-odd rule, so self-intersecting polygons (bow ties, pentagrams) leave the doubly covered
    parts empty. Degenerate polygons (fewer than 3 distinct vertices, or all collinear) give an
    empty mask. Parts outside the image are clipped.

    Implementation: a vectorised scanline. Every non-horizontal edge yields one crossing per
    pixel-centre row it spans (half-open in y, so a vertex on a scanline counts once); each
    crossing toggles the parity of all pixels whose centre lies at or right of it, done with one
    ``bincount`` and a cumulative sum. Cost is O(height * width + number of crossings).
    """
    height, width = _check_shape(height, width)
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2) as (x, y) vertices, got {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("points contain non-finite coordinates")
    mask = np.zeros((height, width), dtype=bool)
    if _is_degenerate(pts):
        return mask
    x0, y0 = pts[:, 0], pts[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    keep = y0 != y1
    x0, y0, x1, y1 = x0[keep], y0[keep], x1[keep], y1[keep]
    ylo = np.minimum(y0, y1)
    yhi = np.maximum(y0, y1)
    # Rows r with ylo <= r + 0.5 < yhi.
    r_start = np.clip(np.ceil(ylo - 0.5), 0, height).astype(np.int64)
    r_stop = np.clip(np.ceil(yhi - 0.5), 0, height).astype(np.int64)
    counts = np.maximum(r_stop - r_start, 0)
    total = int(counts.sum())
    if total == 0:
        return mask
    edge = np.repeat(np.arange(counts.size), counts)
    offsets = np.cumsum(counts) - counts
    rows = r_start[edge] + (np.arange(total) - offsets[edge])
    yc = rows + 0.5
    ex0, ey0 = x0[edge], y0[edge]
    xc = ex0 + (yc - ey0) * (x1[edge] - ex0) / (y1[edge] - ey0)
    # A crossing at x toggles pixels with centre c + 0.5 >= x, i.e. c >= ceil(x - 0.5).
    cols = np.clip(np.ceil(xc - 0.5), 0, width).astype(np.int64)
    hist = np.bincount(rows * (width + 1) + cols, minlength=height * (width + 1))
    parity = np.cumsum(hist.reshape(height, width + 1)[:, :width], axis=1) & 1
    return parity.astype(bool)


def rasterize_box(box: Sequence[float] | np.ndarray, height: int, width: int) -> np.ndarray:
    """Rasterise an ``(x0, y0, x1, y1)`` box into a ``(height, width)`` boolean mask.

    Pixel ``(r, c)`` is set when ``x0 <= c + 0.5 < x1`` and ``y0 <= r + 0.5 < y1`` (centre
    convention, half-open), which equals ``rasterize_polygon`` of the box's four corners. The box
    is clipped to the image; a box with zero width or height gives an empty mask.
    """
    height, width = _check_shape(height, width)
    b = _as_box(box)
    c0, c1 = (int(np.clip(np.ceil(v - 0.5), 0, width)) for v in (b[0], b[2]))
    r0, r1 = (int(np.clip(np.ceil(v - 0.5), 0, height)) for v in (b[1], b[3]))
    mask = np.zeros((height, width), dtype=bool)
    mask[r0:r1, c0:c1] = True
    return mask


def _as_mask2d(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    """Validate a 2-D mask (bool, or numbers where non-zero means foreground)."""
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {arr.shape}")
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"{name} must be boolean or numeric, got dtype {arr.dtype}")
        arr = arr != 0
    return arr


def mask_to_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Tight box ``(x0, y0, x1, y1)`` of a 2-D mask's foreground, or ``None`` if it is empty.

    ``x1`` and ``y1`` are exclusive pixel edges (last column / row + 1), so
    ``rasterize_box(mask_to_box(m), *m.shape)`` is the filled bounding box of ``m``.
    """
    m = _as_mask2d(mask)
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(m.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


# Direction codes of unit boundary edges (image coordinates, y pointing down).
_DX = np.array([1, 0, -1, 0], dtype=np.int64)
_DY = np.array([0, 1, 0, -1], dtype=np.int64)


def _boundary_edges(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All unit edges between foreground and background, oriented with foreground on the right.

    Returns start x, start y and direction code (0:+x, 1:+y, 2:-x, 3:-y) of each edge, in
    pixel-edge coordinates. Outer boundaries then run clockwise on screen (positive shoelace area
    with y down) and hole boundaries anticlockwise.
    """
    p = np.pad(mask, 1)
    inner = p[1:-1, 1:-1]
    parts = []
    for code, nb, ox, oy in (
        (0, p[:-2, 1:-1], 0, 0),  # top edge, runs left to right from (c, r)
        (1, p[1:-1, 2:], 1, 0),  # right edge, runs down from (c + 1, r)
        (2, p[2:, 1:-1], 1, 1),  # bottom edge, runs right to left from (c + 1, r + 1)
        (3, p[1:-1, :-2], 0, 1),  # left edge, runs up from (c, r + 1)
    ):
        r, c = np.nonzero(inner & ~nb)
        parts.append((c + ox, r + oy, np.full(r.size, code, dtype=np.int64)))
    xs = np.concatenate([q[0] for q in parts]).astype(np.int64)
    ys = np.concatenate([q[1] for q in parts]).astype(np.int64)
    ds = np.concatenate([q[2] for q in parts])
    return xs, ys, ds


def _cycle_order(succ: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a permutation into cycles; return (cycle label, position within cycle) per element.

    Position 0 is the smallest index of each cycle. Uses pointer jumping (O(n log n), no Python
    loop per element).
    """
    n = succ.size
    # deferred: scipy.sparse.csgraph costs ~0.4 s of CLI start-up
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(n, dtype=np.int8), (np.arange(n), succ)), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="weak")
    root = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(root, labels, np.arange(n))
    nxt = succ.copy()
    nxt[nxt == root[labels]] = -1  # break each cycle just before its root
    dist = (nxt >= 0).astype(np.int64)  # steps to the end of the broken list
    active = nxt >= 0
    while np.any(active):
        idx = np.flatnonzero(active)
        dist[idx] += dist[nxt[idx]]
        nxt[idx] = nxt[nxt[idx]]
        active = nxt >= 0
    length = np.bincount(labels)
    return labels, length[labels] - 1 - dist


def mask_to_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """Outer contours of each 4-connected foreground component of a 2-D mask.

    Each contour is a ``(K, 2)`` float array of ``(x, y)`` vertices in pixel-edge coordinates,
    tracing the outline of the component's pixel squares (only corner vertices are kept; the
    polygon is implicitly closed, its first vertex is not repeated). Rasterising a contour with
    :func:`rasterize_polygon` reproduces the component exactly, with its holes filled (holes are
    background regions not 8-connected to the image border). Where two pixels of one component
    touch only at a corner the contour passes through that vertex twice. Contours are ordered by
    their top-left-most edge in raster order. An empty mask gives an empty list.
    """
    m = _as_mask2d(mask)
    if not m.any():
        return []
    xs, ys, ds = _boundary_edges(m)
    n = xs.size
    gw = m.shape[1] + 1
    # Outgoing-edge lookup keyed by (start vertex, direction): sorted keys + searchsorted.
    keys = (ys * gw + xs) * 4 + ds
    key_order = np.argsort(keys, kind="stable")
    sorted_keys = keys[key_order]
    end = (ys + _DY[ds]) * gw + (xs + _DX[ds])

    def lookup(turn: int) -> np.ndarray:
        """Index of the edge leaving each edge's end vertex in direction ``ds + turn``, or -1."""
        want = end * 4 + (ds + turn) % 4
        at = np.minimum(np.searchsorted(sorted_keys, want), n - 1)
        return np.where(sorted_keys[at] == want, key_order[at], -1)

    # Prefer a right turn (toward the foreground): at a corner-touch this keeps the two
    # diagonal pixels apart, i.e. components are 4-connected.
    succ = lookup(1)
    for turn in (0, 3):
        missing = succ < 0
        succ[missing] = lookup(turn)[missing]
    labels, pos = _cycle_order(succ)
    order = np.lexsort((pos, labels))
    lab_sorted = labels[order]
    starts = np.flatnonzero(np.r_[True, lab_sorted[1:] != lab_sorted[:-1]])
    stops = np.r_[starts[1:], n]
    # Shoelace area per cycle, in pixel-area units (outer > 0).
    ex, ey = xs + _DX[ds], ys + _DY[ds]
    area2 = np.bincount(labels, weights=(xs * ey - ex * ys).astype(np.float64))
    raster = np.lexsort((xs, ys))
    rank = np.empty(n, dtype=np.int64)
    rank[raster] = np.arange(n)
    polygons: list[tuple[int, np.ndarray]] = []
    for a, b in zip(starts, stops, strict=True):
        cyc = order[a:b]
        if area2[labels[cyc[0]]] <= 0:
            continue
        d = ds[cyc]
        corner = d != np.roll(d, 1)
        keep = cyc[corner]
        poly = np.column_stack((xs[keep], ys[keep])).astype(np.float64)
        polygons.append((int(rank[cyc].min()), poly))
    polygons.sort(key=lambda item: item[0])
    return [poly for _, poly in polygons]


def box_iou(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes (continuous areas).

    ``IoU = |A ∩ B| / (|A| + |B| - |A ∩ B|)``. Two boxes whose union has zero area (both
    degenerate) give 0.0.
    """
    return float(box_iou_matrix(_as_box(a, "a")[None], _as_box(b, "b")[None])[0, 0])


def box_iou_matrix(
    boxes_a: np.ndarray | Sequence[Sequence[float]], boxes_b: np.ndarray | Sequence[Sequence[float]]
) -> np.ndarray:
    """Pairwise IoU of ``(N, 4)`` and ``(M, 4)`` xyxy boxes as an ``(N, M)`` float64 array.

    Same definition as :func:`box_iou`, fully vectorised (broadcasting, no Python loop).
    """
    a = _as_boxes(boxes_a, "boxes_a")
    b = _as_boxes(boxes_b, "boxes_b")
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    out = np.zeros_like(union)
    np.divide(inter, union, out=out, where=union > 0)
    return out
