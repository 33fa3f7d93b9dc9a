"""The demo's "real photographs" part: the photo world's planted defects, seen by the views that work on
any images.

Crops of public-domain photographs (:mod:`genlens.zoo.photos`) carry no networks of their own, so
what runs here is what runs on a user's folders: the standard metrics in the ``learned`` feature
space (trained on the real crops only), regions on a random VGG-16 feature map, and the critic.
Semantics and the manifold need a segmenter or a decoder the photos do not have; the atlas is left
to the world's part (a random network's atlas is blind to these defects and costs minutes).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Images per set. The critic's cost hardly depends on it (a fixed number of training batches); its
#: power on the subtlest defect does: the JPEG-damaged quadrant came out at z = 4.8-5.1 at 600 and
#: 6.0-8.0 at 1000 against a threshold of 3.5 (docs/critic.md).
PHOTO_N = 1000
#: The views of this part (see the module docstring).
PHOTO_VIEWS = ("metrics", "regions", "critic")


def photo_rows(out: Path, n: int, quick: bool, device: str, cache: Path | None, seed: int,
               say: Callable[[str], None]) -> tuple[list[Any], str, int] | None:
    """One report per photo generator under ``out/photos`` with at most ``n`` images per set (and at
    most :data:`PHOTO_N`): the index rows, the real strip, the number of images.

    ``None`` (said once) when scikit-image, which ships the photographs, is not installed. ``quick``
    trains the critic on 200 batches instead of its default 6400: enough for the desaturated quadrant
    and the dropped photograph, not for blur or JPEG (a test of the plumbing, not of the critic)."""
    from genlens.demo.run import DemoRow, _row, _Timer, thumbnails
    from genlens.errors import GenlensError
    from genlens.report.render import write_report
    from genlens.report.runner import Runner
    from genlens.views import RunContext
    from genlens.zoo.photos import PHOTO_GENERATORS, make_photo_generator, photo_source

    n = min(n, PHOTO_N)
    try:
        real = photo_source(n, seed=seed)
    except GenlensError as err:
        say(f"real photographs: skipped ({err})")
        return None
    say(f"real photographs: {n} crops of six public-domain photographs")
    options: dict[str, dict[str, Any]] = {"metrics": {"features": "learned", "n_boot": 10 if quick else 20},
                                          "regions": {"n_boot": 20 if quick else 100}}
    if quick:
        options["critic"] = {"min_steps": 200}
    runner = Runner(real, options, RunContext(device=device, cache_dir=cache, seed=seed), only=PHOTO_VIEWS)
    rows: list[DemoRow] = []
    for i, (name, params) in enumerate(PHOTO_GENERATORS, start=1):
        t0 = _Timer()
        generator = make_photo_generator(name, seed=seed + 201 + i, **params)
        fake = generator.as_source(n)
        say(f"photos {i}/{len(PHOTO_GENERATORS)}: {name}: running {', '.join(PHOTO_VIEWS)}")
        slug = f"photos/{name}"
        sections = runner.sections(fake, out / slug,
                                   on_done=lambda sec, sec_s: say(f"      {sec.key}: {sec.status} ({sec_s:.0f}s)"))
        inputs = {"real": real.describe(), "fake": fake.describe(), "planted": generator.planted}
        write_report(sections, out / slug, title=f"genlens demo, real photographs: {name}", inputs=inputs)
        row = _row(name, generator.planted, f"{slug}/report.html", sections, t0.seconds)
        row.thumbnails = thumbnails(fake)
        rows.append(row)
        say(f"    {name}: {t0}")
    return rows, thumbnails(real), n
