"""The view's figures: drawn from results, one per question, with the layout the docs describe."""

from __future__ import annotations

import numpy as np
import torch

from genlens.manifold import analyze, cross_model_mi, figures
from genlens.manifold.section import build_section


def image_decoder(z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
    """Latent k paints pixel block k of a 1x4x4 image (orthogonal columns; latent 3 unused)."""
    img = torch.zeros(z.shape[0], 1, 4, 4)
    img[:, 0, 0, :2] = z[:, :1] * 2.0
    img[:, 0, 1, :2] = z[:, 1:2]
    img[:, 0, 2:, 2:] = z[:, 2:3].reshape(-1, 1, 1) * 0.5
    if c is not None:
        img = img * (1.0 + c[:, :1].reshape(-1, 1, 1, 1))
    return img + 0.0 * z[:, 3:4].reshape(-1, 1, 1, 1)


def test_column_images_show_what_each_latent_paints() -> None:
    res = analyze(lambda z: image_decoder(torch.sinh(z)), 4, n=20, n_boot=0)
    assert list(res.inactive) == [3] and list(res.order[:3]) == [0, 1, 2]
    mean0 = res.column_means[0].reshape(4, 4)
    assert np.all(mean0[0, :2] > 0) and np.count_nonzero(mean0) == 2  # only its own pixels
    fig = figures.column_images(res, top=4)
    assert fig is not None and len(fig.axes) == 4
    assert "inactive" in fig.axes[3].get_title()


def test_conditional_column_images_have_one_row_per_class() -> None:
    res = analyze(image_decoder, 4, n=12, classes=["a", "b", "c"], n_boot=0)
    fig = figures.column_images(res, top=3)
    assert len(fig.axes) == 9 and fig.axes[0].get_ylabel() == "a"
    np.testing.assert_allclose(res.class_column_means[0, 0].reshape(4, 4)[0, :2], 4.0)  # (1 + 1) * 2


def test_section_has_all_figures_and_names_entangled_pairs() -> None:
    a = torch.tensor([[1.0, 0.9, 0.0], [0.0, 0.4, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    lin = lambda z: z @ a.T  # noqa: E731 -- latents 0 and 1 share a direction
    res = analyze(lin, 3, n=10, n_boot=10)
    z = torch.randn(10, 3)
    cross = cross_model_mi(lin, z, lin, z, n_boot=0)
    other = analyze(lambda z: z @ (2 * a).T, 3, n=10, n_boot=0)
    section = build_section(res, "lin", others={"scaled": other}, cross=cross)
    names = [f.name for f in section.figures]
    assert names == ["entropy-spectrum", "pairwise-mi", "decomposition", "cross-model-mi"]
    assert all(f.png.startswith(b"\x89PNG") for f in section.figures)
    assert "most entangled pair z0-z1" in section.summary
    assert section.table.rows[0][1] == "z0" and section.table.rows[0][6] == "z1"  # |a_0| = |a_2| > |a_1|
    assert figures.column_images(res) is None  # a flat output is not drawn as images
