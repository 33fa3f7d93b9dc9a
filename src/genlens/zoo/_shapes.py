"""Masks of simple shapes over a batch, from coordinate grids (no per-pixel Python loops).

Coordinates are fractions of the image side, pixel centres at ``(i + 0.5) / size``, so one scene
recipe renders the same picture at 32 or 64 px. Every per-image parameter is a ``(n,)`` array and
every mask a boolean ``(n, H, W)`` array.
"""

from __future__ import annotations

import numpy as np


class Grid:
    """Pixel-centre coordinates of a square image, shaped to broadcast against ``(n, 1, 1)``."""

    def __init__(self, size: int) -> None:
        centres = (np.arange(size, dtype=np.float32) + 0.5) / size
        self.size = size
        self.y = centres[None, :, None]  # (1, H, 1)
        self.x = centres[None, None, :]  # (1, 1, W)


def _col(v: np.ndarray) -> np.ndarray:
    """A per-image ``(n,)`` parameter as ``(n, 1, 1)`` for broadcasting over pixels."""
    return np.asarray(v, dtype=np.float32)[:, None, None]


def ellipse(g: Grid, cy: np.ndarray, cx: np.ndarray, ry: np.ndarray, rx: np.ndarray) -> np.ndarray:
    """Filled axis-aligned ellipse."""
    return ((g.y - _col(cy)) / _col(ry)) ** 2 + ((g.x - _col(cx)) / _col(rx)) ** 2 <= 1.0


def rect(g: Grid, y0: np.ndarray, x0: np.ndarray, y1: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """Filled rectangle ``[y0, y1) x [x0, x1)``."""
    inside_y = (g.y >= _col(y0)) & (g.y < _col(y1))
    inside_x = (g.x >= _col(x0)) & (g.x < _col(x1))
    return inside_y & inside_x


def triangle_up(g: Grid, apex_y: np.ndarray, cx: np.ndarray, base_y: np.ndarray, half_base: np.ndarray) -> np.ndarray:
    """Isosceles triangle with its apex at ``(apex_y, cx)`` and a horizontal base at ``base_y``."""
    depth = (g.y - _col(apex_y)) / (_col(base_y) - _col(apex_y))
    return (depth >= 0.0) & (depth <= 1.0) & (np.abs(g.x - _col(cx)) <= depth * _col(half_base))


def below_curve(g: Grid, curve: np.ndarray) -> np.ndarray:
    """Pixels at or below a per-image curve ``curve`` of shape ``(n, 1, W)`` (y grows downwards)."""
    return g.y >= curve
