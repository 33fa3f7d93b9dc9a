"""One self-contained HTML page to explore an atlas: canvas panels plus the data embedded as JSON.

No external URLs: icons and example patches are inline PNG data URIs. The JSON is embedded in a
``<script type="application/json">`` block with ``<``, ``>`` and ``&`` written as ``\\u003c`` etc., so
a layer or class name containing ``</script>`` cannot end the block; the page builds its DOM with
text nodes only (never ``innerHTML``).
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
import numpy as np
from PIL import Image

from genlens._fs import atomic_write_text
from genlens.atlas.result import AtlasResult, GridResult
from genlens.io.base import ImageSource

PATCH_PX = 32


def png_data_uri(image: np.ndarray, size: int | None = None) -> str:
    """``(H, W, 3)`` uint8 -> ``data:image/png;base64,...`` (nearest-neighbour upscaled to ``size``)."""
    pil = Image.fromarray(np.ascontiguousarray(image))
    if size and pil.size != (size, size):
        pil = pil.resize((size, size), Image.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def embed_json(data: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` characters remain."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


class _ImageCache:
    """Reads each needed source image once."""

    def __init__(self, source: ImageSource) -> None:
        self.source, self.images = source, {}

    def patch(self, image_id: int, box: tuple[int, int, int, int]) -> str:
        if image_id not in self.images:
            self.images[image_id] = self.source.read(image_id, image_id + 1)[0].permute(1, 2, 0).numpy()
        y0, x0, y1, x1 = box
        return png_data_uri(self.images[image_id][y0:y1, x0:x1], PATCH_PX)


def _grid_payload(grid: GridResult, classes: tuple[str, ...] | None, real: _ImageCache, fake: _ImageCache,
                  alpha: float) -> dict:
    occupied = (grid.counts_real + grid.counts_fake) > 0

    def names(ids: np.ndarray) -> list[str]:
        return [classes[i] for i in ids if i >= 0] if classes else []

    payload: dict[str, Any] = {
        "grid": grid.grid,
        "real": grid.counts_real.astype(int).tolist(),
        "fake": grid.counts_fake.astype(int).tolist(),
        "ratio": np.round(np.where(occupied, grid.log_ratio, 0.0), 4).tolist(),
        "p": [float(f"{p:.3g}") for p in grid.p_family.tolist()],  # family-wise adjusted (see genlens.atlas.stats)
        "alpha": alpha,
        "js": grid.divergences["js"], "kl_rf": grid.divergences["kl_real_fake"],
        "kl_fr": grid.divergences["kl_fake_real"], "floor": grid.floor.floor["js"], "excess": grid.floor.excess["js"],
        "classes": {int(c): [names(grid.top_classes_real[c]), names(grid.top_classes_fake[c])]
                    for c in np.flatnonzero(occupied)} if classes else None,
        "examples": {
            int(cell.row * grid.grid + cell.col): {
                "real": [real.patch(e.image_id, e.box) for e in cell.examples_real],
                "fake": [fake.patch(e.image_id, e.box) for e in cell.examples_fake],
            }
            for cell in grid.top_cells
        },
    }
    if grid.icons is not None and grid.icon_cells is not None:
        payload["icons"] = {int(c): png_data_uri(icon) for c, icon in zip(grid.icon_cells, grid.icons)}
    return payload


def viewer_html(result: AtlasResult, real: ImageSource, fake: ImageSource) -> str:
    """The page as a string (see the module docstring)."""
    real_cache, fake_cache = _ImageCache(real), _ImageCache(fake)
    layer, grid, _, _ = result.headline()  # open on the map where the two sets differ most
    first = [item.layer for item in result.layers].index(layer)
    data = {
        "model": result.model.get("name"),
        "start": {"layer": first, "grid": [g.grid for g in result.layers[first].grids].index(grid)},
        "layers": [
            {"name": layer.layer,
             "grids": [_grid_payload(g, result.classes, real_cache, fake_cache, result.family_alpha)
                       for g in layer.grids]}
            for layer in result.layers
        ],
    }
    env = jinja2.Environment(loader=jinja2.PackageLoader("genlens.atlas", "templates"), autoescape=True)
    subtitle = (f"model {result.model.get('name')} - {result.n_real} real and {result.n_fake} generated images, "
                f"{result.positions} position(s) per image; divergences in nats, KL pseudo-count {result.alpha}")
    return env.get_template("viewer.html").render(
        title="genlens activation atlas", subtitle=subtitle, data_json=Markup(embed_json(data))
    )


def write_viewer(result: AtlasResult, real: ImageSource, fake: ImageSource, path: str | Path) -> Path:
    """Write the viewer page atomically to ``path``."""
    return atomic_write_text(path, viewer_html(result, real, fake))
