"""Activation collection: hooks on any module, aligned positions, token grids, attribution, patches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from genlens.atlas.activations import as_spatial, collect_activations, effective_patch
from genlens.atlas.model import AtlasModel, resolve_model
from genlens.errors import ConfigError
from genlens.io.arrays import ArraySource


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
        nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
    ).eval()


def _model(net: nn.Module | None = None) -> AtlasModel:
    return AtlasModel(net or _net(), "tiny", (16, 16), lambda x: x * 2 - 1, ("2",), ("a", "b", "c", "d"))


def _source(rng, n=10) -> ArraySource:
    return ArraySource(rng.integers(0, 256, (n, 3, 16, 16), dtype=np.uint8))


def test_values_are_the_hooked_map_at_the_recorded_positions(rng):
    model, src = _model(), _source(rng)
    acts = collect_activations(model, {"real": src, "fake": src}, ["0", "2"], positions=3, seed=5, batch_size=4)
    images = src.read_all().float() / 255 * 2 - 1
    with torch.no_grad():
        first = model.module[0](images)
        second = model.module[2](torch.relu(first))
    for layer, fmap in (("0", first), ("2", second)):
        act = acts[layer]
        assert act.grid_shape == tuple(fmap.shape[2:]) and len(act) == 2 * 10 * 3
        expected = fmap.permute(0, 2, 3, 1)[act.image_id, act.yx[:, 0], act.yx[:, 1]].numpy()
        np.testing.assert_allclose(act.values, expected, rtol=1e-5, atol=1e-6)
    # aligned: the same relative spot in both layers and both sets
    a0, a2 = acts["0"], acts["2"]
    np.testing.assert_array_equal(a0.yx[a0.set_index == 0] // 2, a2.yx[a2.set_index == 0])
    np.testing.assert_array_equal(a2.yx[a2.set_index == 0], a2.yx[a2.set_index == 1])
    assert set(np.unique(a2.predicted)) <= {0, 1, 2, 3}


def test_positions_are_reproducible_and_seeded(rng):
    model, src = _model(), _source(rng)
    a = collect_activations(model, {"real": src, "fake": src}, ["2"], positions=2, seed=1)["2"]
    b = collect_activations(model, {"real": src, "fake": src}, ["2"], positions=2, seed=1)["2"]
    c = collect_activations(model, {"real": src, "fake": src}, ["2"], positions=2, seed=2)["2"]
    np.testing.assert_array_equal(a.yx, b.yx)
    assert not np.array_equal(a.yx, c.yx)


def test_attribution_equals_activation_times_gradient_of_each_logit(rng):
    model, src = _model(), _source(rng, 4)
    act = collect_activations(model, {"real": src, "fake": src}, ["2"], positions=2, attribution=True)["2"]
    images = src.read_all().float() / 255 * 2 - 1
    rows = np.flatnonzero(act.set_index == 0)
    for i in rows:
        x = images[act.image_id[i]:act.image_id[i] + 1]
        h = model.module[:3](x).detach().requires_grad_(True)
        logits = model.module[3:](h.clone())  # the in-place ReLU must not touch the leaf
        y, xx = act.yx[i]
        for k in range(4):
            (grad,) = torch.autograd.grad(logits[0, k], h, retain_graph=True)
            expected = float((h[0, :, y, xx] * grad[0, :, y, xx]).sum())
            assert act.attribution[i, k] == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_token_outputs_become_a_grid_after_dropping_prefix_tokens():
    tokens = torch.arange(2 * 17 * 5, dtype=torch.float32).reshape(2, 17, 5)  # 1 class token + 4x4 patches
    grid = as_spatial(tokens)
    assert grid.shape == (2, 5, 4, 4)
    assert torch.equal(grid[1, :, 2, 3], tokens[1, 1 + 2 * 4 + 3])
    assert torch.equal(as_spatial((tokens[:, 1:], None))[0, :, 0, 0], tokens[0, 1])


def test_effective_patch_grows_with_depth():
    model = _model()
    shallow = effective_patch(model, "0", torch.device("cpu"))
    deep = effective_patch(model, "2", torch.device("cpu"))
    assert shallow == 3 and deep > shallow


def test_boxes_contain_the_unit_centre_in_source_pixels(rng):
    model, src = _model(), _source(rng)
    act = collect_activations(model, {"real": src, "fake": src}, ["2"], positions=4)["2"]
    centre_y = (act.yx[:, 0] + 0.5) * 2
    centre_x = (act.yx[:, 1] + 0.5) * 2
    assert ((act.boxes[:, 0] <= centre_y) & (centre_y <= act.boxes[:, 2])).all()
    assert ((act.boxes[:, 1] <= centre_x) & (centre_x <= act.boxes[:, 3])).all()
    assert (act.boxes >= 0).all() and (act.boxes[:, 2:] <= 16).all()


def test_unknown_layer_is_a_clear_error(rng):
    with pytest.raises(ConfigError, match="no layer"):
        collect_activations(_model(), {"real": _source(rng)}, ["nope"])


def test_torchvision_model_with_random_weights_and_default_layers(rng):
    model = resolve_model("torchvision:resnet18", weights="random", input_size=64)
    assert model.default_layers == ("layer2", "layer3", "layer4")
    src = ArraySource(rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8))
    acts = collect_activations(model, {"real": src}, ["layer3"], positions=2)
    assert acts["layer3"].values.shape == (6, 256) and acts["layer3"].grid_shape == (4, 4)
    assert (acts["layer3"].boxes[:, 2:] <= 32).all()  # boxes are in the 32 px source, not the 64 px input


def test_random_networks_read_images_at_their_own_size_pretrained_ones_at_224():
    from genlens.atlas.model import default_input_size

    assert resolve_model("random-vgg16", image_size=(64, 64)).input_size == (64, 64)
    assert resolve_model("random-vgg16", image_size=(64, 64), input_size=224).input_size == (224, 224)
    assert default_input_size("random", (16, 16)) == (32, 32)  # VGG's last block keeps a 2x2 map
    assert default_input_size("random", (1024, 512)) == (224, 112)  # large images shrink, aspect kept
    assert default_input_size("default", (64, 64)) == (224, 224)  # ImageNet weights saw 224-px crops
    assert default_input_size("/some/state_dict.pt", (64, 64)) == (224, 224)


def test_factory_spec_and_bad_names():
    with pytest.raises(ConfigError, match="unknown atlas model"):
        resolve_model("nonsense")
    with pytest.raises(ConfigError, match="cannot import"):
        resolve_model("no_such_pkg.mod:factory")
