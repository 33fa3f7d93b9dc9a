"""Regions at any image size: a bounded grid of sites by default, pixel blocks, and a clear line
before asking for more memory than the machine has."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from genlens.errors import MemoryNeedError
from genlens.features.simple import PixelBlocks
from genlens.regions.representation import MAX_SITES, default_for


@pytest.mark.parametrize(("size", "expected", "sites"), [
    ((32, 32), "random-vgg16:features.8", (16, 16)), ((128, 128), "random-vgg16:features.8", (64, 64)),
    ((256, 256), "random-vgg16:features.15", (64, 64)), ((512, 512), "pixels:4@256x256", (64, 64)),
    ((1024, 1024), "pixels:4@256x256", (64, 64)), ((1000, 750), "pixels:4@256x192", (64, 48)),
])
def test_the_default_representation_keeps_the_sites_bounded(size, expected, sites) -> None:
    assert default_for(size) == expected
    assert sites[0] * sites[1] <= MAX_SITES


def test_pixel_blocks_keep_every_pixel_grouped_by_site() -> None:
    images = torch.randint(0, 256, (2, 3, 8, 12), dtype=torch.uint8)
    maps = PixelBlocks(4)(images)["blocks"]
    assert maps.shape == (2, 48, 2, 3)
    scaled = images.float() / 127.5 - 1.0
    # site (1, 2) holds exactly the pixels of rows 4-7, cols 8-11, channel by channel
    assert torch.equal(maps[:, :, 1, 2].reshape(2, 3, 4, 4), scaled[:, :, 4:8, 8:12])
    with pytest.raises(Exception, match="do not split into 5x5"):
        PixelBlocks(5)(images)
    assert PixelBlocks(4, (16, 16))(images)["blocks"].shape == (2, 48, 4, 4)  # resized first


def test_regions_on_pixel_blocks_box_a_defect_in_input_pixels() -> None:
    """A colour shift in a box, found on 4x4 pixel blocks (8x8 sites for 32-px images): the finding's box
    is given in input pixels and overlaps the planted one."""
    from genlens.views import RunContext, get_view
    from genlens.zoo import make_generator, real_source

    real = real_source(200, seed=0)
    fake = make_generator("color_shift_region", box=(2, 18, 12, 30), seed=3).as_source(200, seed=3)
    view, ctx = get_view("regions"), RunContext()
    result = view.compare(view.fit(real, view.options(representation="pixels:4", clusters=6, n_boot=30), ctx),
                          fake, ctx)
    assert result.partition.image_size == (8, 8) and result.site == (4, 4)
    best = max((f for f in result.findings() if f.significant), key=lambda f: f.score)
    top, left, bottom, right = best.where
    assert top < 12 and bottom > 2 and left < 30 and right > 18


def test_more_than_the_machine_has_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import genlens._memory as memory
    from genlens.regions import analyze_regions

    monkeypatch.setattr(memory, "free_bytes", lambda device=None: 2**20)  # 1 MiB free
    images = np.random.default_rng(0).integers(0, 256, (40, 3, 16, 16), dtype=np.uint8)
    with pytest.raises(MemoryNeedError, match=r"pixel-wise CKA of 256 sites .* needs about .* GiB, more than "
                                              r"the 0.0 GiB this machine has free; choose a representation"):
        analyze_regions(images, images, clusters=2)


@pytest.mark.slow
def test_cli_says_it_in_one_line(tmp_path) -> None:
    from PIL import Image

    for name in ("real", "fake"):
        (tmp_path / name).mkdir()
        for i in range(12):
            Image.fromarray(np.full((16, 16, 3), 10 * i, np.uint8)).save(tmp_path / name / f"{i}.png")
    code = ("import genlens._memory as m; m.free_bytes = lambda device=None: 2**20; "
            "import sys; from genlens.cli import main; sys.argv = ['genlens', 'regions', "
            f"'{tmp_path / 'real'}', '{tmp_path / 'fake'}', '--representation', 'pixels']; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "GiB" in lines[0], done.stderr


def test_a_report_reads_the_images_that_fit_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """When free memory holds maps of fewer images than asked (but at least MIN_FIT), regions compares
    that many of each set, withdraws from the pass it planned to share, and warns in its section;
    below MIN_FIT it stops with the one clear line instead."""
    import genlens._memory as memory
    from genlens.atlas.analysis import plan_atlas
    from genlens.features.shared_pass import Network, SharedPasses
    from genlens.io import ArraySource
    from genlens.regions.representation import BYTES_PER_VALUE, MIN_FIT
    from genlens.views import RunContext, get_view
    from genlens.zoo.sources import open_zoo_spec

    n, per_image = 160, 128 * 16 * 16  # relu2_2 of 32-px images: 128 channels on 16 x 16 sites
    images = open_zoo_spec(f"zoo:photos?n={2 * n}&size=32").read_all()
    real, fake = ArraySource(images[:n], name="real"), ArraySource(images[n:], name="fake")
    view = get_view("regions")
    options = view.options(n_boot=10)
    monkeypatch.setattr(memory, "free_bytes", lambda device=None: int(130.5 * per_image * BYTES_PER_VALUE / 0.9))
    passes = SharedPasses("cpu")
    view.plan(passes, real, fake, options, RunContext(), False)
    plan_atlas(passes, real, fake, "random-vgg16", "default", None, 2, None, None, seed=0)
    ctx = RunContext(passes=passes)
    section = view.section(view.fit(real, options, ctx), fake, ctx)
    assert section.status == "ok"
    assert section.data["n_real"] == section.data["n_fake"] == 130
    assert any("first 130 images of each set, not 160" in w for w in section.warnings), section.warnings
    network = Network.of("vgg16", "random", 0, (32, 32))
    assert passes.consumers(network, real, n) == passes.consumers(network, fake, n) == ("atlas",)

    monkeypatch.setattr(memory, "free_bytes", lambda device=None: int((MIN_FIT - 1) * per_image * BYTES_PER_VALUE))
    with pytest.raises(MemoryNeedError, match=r"regions on random-vgg16:features.8 maps of 160 images"):
        view.fit(real, options, RunContext())
