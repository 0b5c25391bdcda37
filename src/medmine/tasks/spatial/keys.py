"""JSON keys a model may use for geometry, labels, scores and wrapper objects."""

from __future__ import annotations

# fmt: off
LABEL_KEYS = ("label", "name", "class", "category", "finding", "class_name", "lesion", "type")
SCORE_KEYS = ("score", "confidence", "probability", "prob", "conf")
BOX_KEYS = (
    "box_2d", "bbox_2d", "bbox", "box", "bounding_box", "boundingbox", "rect", "rectangle",
    "xyxy", "coordinates", "coords", "location",
)
YX_KEYS = frozenset({"box_2d"})
POLY_KEYS = (
    "polygon", "points", "vertices", "contour", "segmentation", "outline", "boundary",
    "coordinates", "coords", "mask",
)
POINT_KEYS = (
    "point", "point_2d", "center", "centre", "coordinates", "coords", "location", "position",
    "xy", "points",
)
CORNER_KEY_SETS = (
    ("x_min", "y_min", "x_max", "y_max"),
    ("xmin", "ymin", "xmax", "ymax"),
    ("x1", "y1", "x2", "y2"),
    ("x0", "y0", "x1", "y1"),
    ("left", "top", "right", "bottom"),
    ("minx", "miny", "maxx", "maxy"),
    ("x_start", "y_start", "x_end", "y_end"),
    ("xstart", "ystart", "xend", "yend"),
)
X_SPANS = ("x", "x_range", "xrange", "x_extent", "x_span", "x_interval", "horizontal")
Y_SPANS = ("y", "y_range", "yrange", "y_extent", "y_span", "y_interval", "vertical")
SIZE_PAIRS = ("size", "dimensions", "wh", "extent")
CENTER_X = ("cx", "center_x", "centre_x", "x_center", "x_centre")
CENTER_Y = ("cy", "center_y", "centre_y", "y_center", "y_centre")
WIDTH = ("width", "w")
HEIGHT = ("height", "h")
SIZE_KEYS = (*WIDTH, *HEIGHT)
WRAPPER_KEYS = frozenset(
    {
        "boxes", "bboxes", "detections", "objects", "results", "findings", "lesions", "annotations",
        "predictions", "answer", "output", "regions", "items", "data", "polygons", "result",
        "response",
    }
)
# fmt: on
