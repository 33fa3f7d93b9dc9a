"""Layer inversion machinery on tiny hand-built generators (no training of a GAN needed).

The planted omission: a generator whose last layer can only mix two palette colours (sky and grass)
cannot draw the red car, whatever its earlier layers do; inverting real scenes with a car must lose
the car, keep the sky and grass, and the instance view must say so.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from genlens.errors import ConfigError, InputError
from genlens.semantics import GeneratorSplit, instance_view, invert_and_inspect, invert_images, train_encoder
from genlens.semantics.inversion import to_uint8, to_unit
from test_semantics_statistics import PALETTE, SEG, render

LATENT = 8


def up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out),
                         nn.ReLU())


class TwoColourHead(nn.Module):
    """Per pixel, a convex mix of the sky and grass colours: red is outside its range by construction."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.mix = nn.Conv2d(c_in, 2, 1)
        colours = torch.from_numpy(PALETTE[:2].astype(np.float32)) / 127.5 - 1  # (2, 3) in [-1, 1]
        self.register_buffer("colours", colours)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        w = self.mix(h).softmax(1)
        return torch.einsum("bkhw,kc->bchw", w, self.colours)


def tiny_generator(head: str = "rgb", seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    g = nn.Sequential()
    g.add_module("fc", nn.Sequential(nn.Linear(LATENT, 32 * 4 * 4), nn.Unflatten(1, (32, 4, 4)), nn.ReLU()))
    g.add_module("block1", up(32, 16))
    g.add_module("block2", up(16, 16))
    g.add_module("to_rgb", nn.Sequential(nn.Conv2d(16, 3, 3, padding=1), nn.Tanh()) if head == "rgb"
                 else TwoColourHead(16))
    with torch.no_grad():  # an untrained head barely leaves grey; a trained one spans its colour range
        (g.to_rgb[0] if head == "rgb" else g.to_rgb.mix).weight.mul_(4.0)
    return g.eval()


@pytest.fixture(scope="module")
def rgb_split():
    return GeneratorSplit.from_sequential(tiny_generator("rgb"), "fc", (LATENT,))


@pytest.fixture(scope="module")
def rgb_encoder(rgb_split):
    return train_encoder(rgb_split, steps=150, batch_size=32, seed=0)


def test_split_by_name_reproduces_the_generator():
    g = tiny_generator()
    split = GeneratorSplit.from_sequential(g, "block1", (LATENT,))
    assert split.layer_names == ["fc", "block1"]
    z = torch.randn(4, LATENT)
    with torch.no_grad():
        torch.testing.assert_close(split.generate(z), g(z))
    assert split.shapes() == [(LATENT,), (32, 4, 4), (16, 8, 8), (3, 16, 16)]
    with pytest.raises(ConfigError, match="blocks"):
        GeneratorSplit.from_sequential(g, "nope", (LATENT,))
    with pytest.raises(ConfigError, match="last block"):
        GeneratorSplit.from_sequential(g, "to_rgb", (LATENT,))
    with pytest.raises(ConfigError, match="nn.Sequential"):
        GeneratorSplit.from_sequential(TwoColourHead(3), "mix", (LATENT,))


def test_layer_encoders_reduce_left_and_right_losses(rgb_encoder):
    _, record = rgb_encoder
    for start, end in zip(record.left_start, record.left):
        assert end < 0.7 * start
    for start, end in zip(record.right_start, record.right):
        assert end < start


def test_own_samples_are_reconstructed_with_low_error(rgb_split, rgb_encoder):
    encoder, _ = rgb_encoder
    with torch.no_grad():
        x = to_uint8(rgb_split.generate(torch.randn(6, LATENT, generator=torch.Generator().manual_seed(3))))
    inv = invert_images(rgb_split, encoder, x, steps=150)
    assert inv.reconstructions.shape == x.shape and inv.reconstructions.dtype == np.uint8
    assert inv.l1_final.mean() < 0.01
    assert (inv.l1_final <= inv.l1_start + 1e-6).all()


def test_layer_inversion_beats_z_only_optimisation_on_real_images(rgb_split, rgb_encoder):
    """The paper's reason for inverting layers: optimising z alone cannot get close to a real image.

    Unregularised, the layer optimum is at most the z optimum (delta_1 = g_1(z) - g_1(z0) reproduces any z).
    """
    encoder, _ = rgb_encoder
    images, _ = render(6, seed=8, size=16)
    x = torch.from_numpy(images)
    steps = 150
    inv = invert_images(rgb_split, encoder, x, steps=steps, lambda_reg=0.0)
    target = to_unit(x)
    z = encoder(target).clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.01)
    for _ in range(steps):
        loss = (rgb_split.generate(z) - target).abs().flatten(1).mean(1).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        z_only = ((rgb_split.generate(z) - target).abs().mean((1, 2, 3)) / 2).numpy()
    assert inv.l1_final.mean() < 0.8 * z_only.mean()
    assert (inv.l1_final < inv.l1_start).all()


def test_unregularised_layer_inversion_covers_the_range_of_g(rgb_split, rgb_encoder):
    """range(G) is inside range(G_f): with lambda_reg = 0, any G(z) is reachable from any start."""
    encoder, _ = rgb_encoder
    with torch.no_grad():
        x = to_uint8(rgb_split.generate(5 * torch.randn(3, LATENT)))  # far from the encoder's training range
    inv = invert_images(rgb_split, encoder, x, steps=300, lambda_reg=0.0)
    assert inv.l1_final.mean() < 0.03


def test_inversion_rejects_images_of_the_wrong_shape(rgb_split, rgb_encoder):
    with pytest.raises(InputError, match="output shape"):
        invert_images(rgb_split, rgb_encoder[0], torch.zeros(2, 3, 8, 8, dtype=torch.uint8))


@pytest.mark.slow
def test_planted_omission_is_found_by_the_instance_view():
    split = GeneratorSplit.from_sequential(tiny_generator("two-colour"), "block1", (LATENT,))
    images, labels = render(24, seed=5, drop=None, p_present=1.0, size=16)
    result = invert_and_inspect(split, torch.from_numpy(images), SEG, encoder_steps=100, steps=200)
    view = result.view
    assert view is not None
    with_car = [i for i in range(len(labels)) if (labels[i] == 2).mean() >= 0.02]
    assert len(with_car) > 10
    assert view.loss_rate("car") == 1.0
    assert (view.loss_rate("sky") or 0) < 0.2 and (view.loss_rate("grass") or 0) < 0.2
    assert view.lost_counts() and next(iter(view.lost_counts())) in {"car", "sun", "house"}
    i = with_car[0]
    # The lost-pixel mask covers the car's pixels in x (where x' labels them otherwise).
    car_pixels = labels[i] == 2
    assert view.lost_mask[i][car_pixels].mean() > 0.9
    assert not view.lost_mask[i][labels[i] <= 1].any()
    figure = result.figures()[0]
    assert figure.name == "instances" and figure.png.startswith(b"\x89PNG")
    d = result.to_dict()
    assert "car" in d["instances"]["lost_counts"]


def test_instance_view_on_identical_images_loses_nothing():
    images, _ = render(5, seed=1, size=16)
    view = instance_view(images, images, SEG)
    assert all(f.lost == () and f.agreement == 1.0 for f in view.findings)
    assert not view.lost_mask.any()
