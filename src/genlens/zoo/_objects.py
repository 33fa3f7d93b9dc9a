"""The five object classes of the world: where each stands, how large it is, what colour.

Each painter draws one instance per scene (where ``present``) into a float image batch and its label
map, in place. ``is_main`` picks the dominant size (about 7-12 % of the image) or the extra size
(0.4-0.5 of the dominant linear size, so at most a quarter of its area); main and extra instances
draw from separate random streams. Sizes and positions are fractions of the image side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from genlens.zoo._shapes import Grid, ellipse, rect, triangle_up

if TYPE_CHECKING:
    from genlens.zoo.world import _Draws

Color = tuple[float, float, float]


@dataclass(frozen=True)
class ObjectLayout:
    """What painters share: the pixel grid, the per-image draws and the horizon curve ``(n, 1, W)``."""

    grid: Grid
    draws: _Draws
    horizon: np.ndarray

    def ground_under(self, cx: np.ndarray, half_width: np.ndarray) -> np.ndarray:
        """Lowest horizon point under ``[cx - hw, cx + hw]``: where a standing object's base goes."""
        span = np.abs(self.grid.x[:, 0, :] - cx[:, None]) <= half_width[:, None] + 0.5 / self.grid.size
        return np.where(span, self.horizon[:, 0, :], -np.inf).max(axis=1).astype(np.float32)


def _paint(images: np.ndarray, labels: np.ndarray, mask: np.ndarray, color: np.ndarray, class_id: int) -> None:
    """Copy a per-image colour ``(n, 3)`` into ``mask`` and set its label, in place."""
    np.copyto(images, color[:, :, None, None].astype(np.float32), where=mask[:, None])
    np.copyto(labels, class_id, where=mask)


def _scale(layout: ObjectLayout, name: str, is_main: bool) -> np.ndarray:
    """Linear size factor: natural variation of the dominant object, or the small extra size."""
    role = "main" if is_main else "extra"
    low, high = (0.85, 1.15) if is_main else (0.4, 0.5)
    return layout.draws.u(f"{name}.{role}.scale", low, high)


def _pick(layout: ObjectLayout, name: str, palette: tuple[Color, ...], jitter: float) -> np.ndarray:
    """A palette colour per image plus a per-channel jitter, ``(n, 3)``."""
    choice = np.minimum((layout.draws.u(name) * len(palette)).astype(np.int64), len(palette) - 1)
    base = np.asarray(palette, dtype=np.float32)[choice]
    return base + layout.draws.color(f"{name}.jitter", (0.0, 0.0, 0.0), jitter)


def _x_centre(layout: ObjectLayout, name: str, half_width: np.ndarray, is_main: bool) -> np.ndarray:
    """Horizontal centre: the dominant object fully inside the frame, extras anywhere."""
    u = layout.draws.u(name)
    if is_main:
        lo = half_width + 0.03
        return lo + u * (1.0 - 2.0 * lo)
    return 0.05 + 0.9 * u


def paint_sun(layout: ObjectLayout, images: np.ndarray, labels: np.ndarray, cid: int, present: np.ndarray, is_main: bool) -> None:
    """Sun: a yellow-to-orange disc high in the sky (radius 0.15 of the side when dominant)."""
    d, role = layout.draws, "main" if is_main else "extra"
    r = 0.15 * _scale(layout, "sun", is_main)
    cx = _x_centre(layout, f"sun.{role}.x", r, is_main)
    top_of_horizon = layout.horizon.min(axis=(1, 2))
    cy = r + 0.03 + d.u(f"sun.{role}.y") * np.maximum(top_of_horizon - 2 * r - 0.07, 0.0)
    color = d.mix(f"sun.{role}.tone", (250.0, 220.0, 70.0), (250.0, 140.0, 40.0), 0.7)
    _paint(images, labels, ellipse(layout.grid, cy, cx, r, r) & present[:, None, None], color, cid)


def paint_cloud(layout: ObjectLayout, images: np.ndarray, labels: np.ndarray, cid: int, present: np.ndarray, is_main: bool) -> None:
    """Cloud: three overlapping white-grey ellipses in the sky (0.5 x 0.18 of the side when dominant)."""
    d, g, role = layout.draws, layout.grid, "main" if is_main else "extra"
    s = _scale(layout, "cloud", is_main)
    w, h = 0.5 * s, 0.18 * s
    cx = _x_centre(layout, f"cloud.{role}.x", w / 2, is_main)
    top_of_horizon = layout.horizon.min(axis=(1, 2))
    cy = h / 2 + 0.04 + d.u(f"cloud.{role}.y") * np.maximum(top_of_horizon - h - 0.1, 0.0)
    mask = (
        ellipse(g, cy + 0.15 * h, cx, 0.35 * h, w / 2)
        | ellipse(g, cy - 0.1 * h, cx - 0.15 * w, 0.45 * h, 0.22 * w)
        | ellipse(g, cy - 0.05 * h, cx + 0.13 * w, 0.4 * h, 0.2 * w)
    )
    grey = d.u(f"cloud.{role}.grey", 0.78, 1.0)[:, None]
    color = grey * np.asarray((245.0, 245.0, 250.0), np.float32)
    _paint(images, labels, mask & present[:, None, None], color, cid)


def paint_tree(layout: ObjectLayout, images: np.ndarray, labels: np.ndarray, cid: int, present: np.ndarray, is_main: bool) -> None:
    """Tree: brown trunk and a dark green crown, standing on the horizon (0.45 of the side tall)."""
    d, g, role = layout.draws, layout.grid, "main" if is_main else "extra"
    s = _scale(layout, "tree", is_main)
    crown, trunk_w, trunk_h = 0.14 * s, 0.05 * s, 0.17 * s
    cx = _x_centre(layout, f"tree.{role}.x", crown, is_main)
    base = layout.ground_under(cx, trunk_w / 2) + 0.015 * s
    crown_cy = base - trunk_h - 0.8 * crown
    present = present[:, None, None]
    trunk = rect(g, crown_cy, cx - trunk_w / 2, base, cx + trunk_w / 2)
    _paint(images, labels, trunk & present, d.color(f"tree.{role}.bark", (95.0, 65.0, 35.0), 10.0), cid)
    leaves = d.mix(f"tree.{role}.leaves", (30.0, 90.0, 40.0), (95.0, 115.0, 30.0), 0.6)
    _paint(images, labels, ellipse(g, crown_cy, cx, 1.15 * crown, crown) & present, leaves, cid)


_WALLS: tuple[Color, ...] = ((195.0, 80.0, 60.0), (225.0, 205.0, 160.0), (165.0, 185.0, 210.0), (235.0, 232.0, 222.0))
_ROOFS: tuple[Color, ...] = ((125.0, 45.0, 40.0), (80.0, 80.0, 92.0), (110.0, 75.0, 50.0))


def paint_house(layout: ObjectLayout, images: np.ndarray, labels: np.ndarray, cid: int, present: np.ndarray, is_main: bool) -> None:
    """House: walls, a pitched roof, a door and a window, standing on the horizon (0.38 wide)."""
    d, g, role = layout.draws, layout.grid, "main" if is_main else "extra"
    s = _scale(layout, "house", is_main)
    w, body_h, roof_h = 0.38 * s, 0.22 * s, 0.14 * s
    cx = _x_centre(layout, f"house.{role}.x", w / 2 + 0.03 * s, is_main)
    base = layout.ground_under(cx, w / 2) + 0.015 * s
    eave = base - body_h
    present = present[:, None, None]
    wall = rect(g, eave, cx - w / 2, base, cx + w / 2)
    _paint(images, labels, wall & present, _pick(layout, f"house.{role}.wall", _WALLS, 12.0), cid)
    roof = triangle_up(g, eave - roof_h, cx, eave, w / 2 + 0.03 * s)
    _paint(images, labels, roof & present, _pick(layout, f"house.{role}.roof", _ROOFS, 10.0), cid)
    side = np.where(d.u(f"house.{role}.door_side") < 0.5, -1.0, 1.0).astype(np.float32)
    door_x = cx + side * 0.22 * w
    door = rect(g, base - 0.55 * body_h, door_x - 0.1 * w, base, door_x + 0.1 * w)
    _paint(images, labels, door & present, d.color(f"house.{role}.door", (70.0, 45.0, 30.0), 8.0), cid)
    win_x = cx - side * 0.22 * w
    window = rect(g, eave + 0.25 * body_h, win_x - 0.1 * w, eave + 0.55 * body_h, win_x + 0.1 * w)
    _paint(images, labels, window & present, d.color(f"house.{role}.window", (185.0, 220.0, 240.0), 10.0), cid)


_CAR_BODIES: tuple[Color, ...] = (
    (200.0, 35.0, 35.0),
    (40.0, 70.0, 190.0),
    (230.0, 190.0, 40.0),
    (230.0, 230.0, 230.0),
    (55.0, 55.0, 65.0),
)


def paint_car(layout: ObjectLayout, images: np.ndarray, labels: np.ndarray, cid: int, present: np.ndarray, is_main: bool) -> None:
    """Car: body, cabin with windows and two wheels, on the ground below the horizon (0.5 long)."""
    d, g, role = layout.draws, layout.grid, "main" if is_main else "extra"
    s = _scale(layout, "car", is_main)
    length, body_h, cabin_h, wheel = 0.5 * s, 0.12 * s, 0.09 * s, 0.055 * s
    cx = _x_centre(layout, f"car.{role}.x", length / 2, is_main)
    lowest = layout.horizon.max(axis=(1, 2)) + body_h + cabin_h + 0.06
    bottom = lowest + d.u(f"car.{role}.y") * np.maximum(0.98 - lowest, 0.0)
    body_bottom = bottom - 0.6 * wheel
    body_top = body_bottom - body_h
    present = present[:, None, None]
    color = _pick(layout, f"car.{role}.body", _CAR_BODIES, 15.0)
    facing = np.where(d.u(f"car.{role}.facing") < 0.5, -1.0, 1.0).astype(np.float32)
    cabin_cx = cx - facing * 0.05 * length
    cabin = rect(g, body_top - cabin_h, cabin_cx - 0.25 * length, body_top + 0.01, cabin_cx + 0.25 * length)
    _paint(images, labels, cabin & present, color, cid)
    glass = rect(g, body_top - 0.8 * cabin_h, cabin_cx - 0.21 * length, body_top, cabin_cx + 0.21 * length)
    _paint(images, labels, glass & present, d.color(f"car.{role}.glass", (170.0, 205.0, 230.0), 10.0), cid)
    body = rect(g, body_top, cx - length / 2, body_bottom, cx + length / 2)
    _paint(images, labels, body & present, color, cid)
    tyre = np.asarray((25.0, 25.0, 28.0), np.float32)[None].repeat(len(cx), axis=0)
    for offset in (-0.3, 0.3):
        w_mask = ellipse(g, bottom - wheel, cx + offset * length, wheel, wheel)
        _paint(images, labels, w_mask & present, tyre, cid)


Painter = Callable[[ObjectLayout, np.ndarray, np.ndarray, int, np.ndarray, bool], None]

#: Painters in back-to-front order (sky objects, then those on the horizon, then the car).
OBJECT_PAINTERS: dict[str, Painter] = {
    "sun": paint_sun,
    "cloud": paint_cloud,
    "house": paint_house,
    "tree": paint_tree,
    "car": paint_car,
}
