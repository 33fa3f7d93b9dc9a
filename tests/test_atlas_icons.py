"""Icons: the parameterisation and transforms in closed form, and that optimisation finds the direction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from genlens.atlas.icons import (IconConfig, _centre_activation, _spectrum_scale, colour_sqrt, fourier_images,
                                 random_transform, render_icons)
from genlens.atlas.model import AtlasModel


def _model() -> AtlasModel:
    torch.manual_seed(0)
    net = nn.Sequential()
    net.add_module("conv1", nn.Conv2d(3, 16, 3, padding=1))
    net.add_module("act", nn.ReLU())
    net.add_module("conv2", nn.Conv2d(16, 16, 3, stride=2, padding=1))
    return AtlasModel(net.eval(), "tiny", (16, 16), lambda x: x * 2 - 1, ("conv2",))


def test_zero_spectrum_is_mid_grey_and_colour_root_squares_to_covariance(rng):
    params = torch.zeros(2, 3, 8, 5, 2)
    assert torch.allclose(fourier_images(params, _spectrum_scale(8), torch.eye(3)), torch.full((2, 3, 8, 8), 0.5))
    images = torch.from_numpy(rng.integers(0, 256, (10, 3, 8, 8), dtype=np.uint8))
    images[:, 1] = images[:, 0] // 2 + 60  # correlated channels
    root = colour_sqrt(images).double()
    cov = torch.cov(images.permute(1, 0, 2, 3).reshape(3, -1).double() / 255.0)
    product = root @ root.T
    assert torch.allclose(product / product[0, 0], cov / cov[0, 0], atol=1e-4)


def test_identity_transform_leaves_images_unchanged():
    images = torch.rand(3, 3, 12, 12)
    config = IconConfig(jitter=0, scale=(1.0, 1.0), rotate_deg=0.0, pad=4)
    out = random_transform(images, config, torch.Generator().manual_seed(0))
    assert torch.allclose(out, images, atol=1e-5)


def test_transforms_differ_per_sample():
    images = torch.rand(1, 3, 12, 12).expand(4, -1, -1, -1).contiguous()
    out = random_transform(images, IconConfig(), torch.Generator().manual_seed(0))
    assert not torch.allclose(out[0], out[1])


@pytest.mark.slow
def test_icons_point_the_centre_unit_along_their_directions():
    model = _model()
    gen = torch.Generator().manual_seed(1)
    directions = np.eye(16, dtype=np.float32)[:6]  # six different channels
    icons = render_icons(model, "conv2", directions, IconConfig(size=16, steps=40, pad=2, jitter=1))
    assert icons.shape == (6, 16, 16, 3) and icons.dtype == np.uint8
    with torch.no_grad():
        h = _centre_activation(model, "conv2", model.to_input(torch.from_numpy(icons).permute(0, 3, 1, 2) / 255.0))
        noise = _centre_activation(model, "conv2", model.to_input(torch.rand(6, 3, 16, 16, generator=gen)))
    v = torch.from_numpy(directions)
    cos_icon = torch.nn.functional.cosine_similarity(h, v).numpy()
    cos_noise = torch.nn.functional.cosine_similarity(noise, v).numpy()
    # each icon is closer to its own direction than to the others', and than random images are
    cross = torch.nn.functional.cosine_similarity(h[:, None], v[None], dim=2).numpy()
    assert (cross.argmax(1) == np.arange(6)).mean() >= 4 / 6  # chance: 1/6
    assert cos_icon.mean() > cos_noise.mean() + 0.1, (cos_icon, cos_noise)
    assert all(p.requires_grad for p in model.module.parameters())


@pytest.mark.slow
def test_pipeline_icons_are_cached_and_reach_the_viewer(tmp_path, monkeypatch):
    from genlens.atlas import icons as icons_module
    from genlens.atlas.analysis import analyze_atlas
    from genlens.atlas.layout import LayoutConfig
    from genlens.atlas.viewer import viewer_html
    from genlens.io.arrays import ArraySource

    rng = np.random.default_rng(0)
    real = ArraySource(rng.integers(0, 256, (30, 3, 16, 16), dtype=np.uint8))
    fake = ArraySource(rng.integers(0, 200, (30, 3, 16, 16), dtype=np.uint8))
    kwargs = dict(model=_model(), grids=(4, 8), positions=2, splits=2, layout=LayoutConfig(method="pca"),
                  icons=True, icon_steps=3, icon_size=16, cache_dir=tmp_path)
    first = analyze_atlas(real, fake, **kwargs)
    grid = first.layers[0].grids[0]
    occupied = np.flatnonzero(grid.counts_real + grid.counts_fake >= 3)
    assert grid.grid == 4 and np.array_equal(grid.icon_cells, occupied) and grid.icons.shape == (len(occupied), 16, 16, 3)
    assert first.layers[0].grids[1].icons is None  # only the smallest grid by default
    assert len(list((tmp_path / "atlas-icons").glob("*.npy"))) == 1

    def fail(*_a, **_k):
        raise AssertionError("icons should come from the cache")

    monkeypatch.setattr(icons_module, "render_icons", fail)
    second = analyze_atlas(real, fake, **kwargs)
    assert np.array_equal(second.layers[0].grids[0].icons, grid.icons)
    assert viewer_html(second, real, fake).count("data:image/png;base64,") >= len(occupied)
