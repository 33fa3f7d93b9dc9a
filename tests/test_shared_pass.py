"""A report's views that read one network on the same images share one pass, with unchanged results.

The regions view (relu2_2 of a random VGG-16) and the atlas (relu3_3..relu5_3 of the same network) on
plain images: planned together, the images are read and the network run once, and each view gets
exactly what its own path gives. A lone consumer, or a network that differs in anything, is not shared.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlens.atlas.activations import CONSUMER as ATLAS, collect_activations
from genlens.atlas.analysis import plan_atlas
from genlens.atlas.model import resolve_model
from genlens.features.shared_pass import Network, SharedPasses
from genlens.io import ArraySource
from genlens.regions.representation import CONSUMER as REGIONS, Representation, feature_maps, plan_maps

SIDE, N = 32, 40
REP = Representation.parse("random-vgg16:features.8")


class CountingSource(ArraySource):
    """An array source that counts the images read from it (probes of one image included)."""

    def __init__(self, images: torch.Tensor, name: str) -> None:
        super().__init__(images, name=name)
        self.images_read = 0

    def read(self, start: int, stop: int) -> torch.Tensor:
        self.images_read += stop - start
        return super().read(start, stop)


def _photos(seed: int) -> torch.Tensor:
    """Crops of a real photograph (smooth regions and edges: activations that differ between images)."""
    from genlens.zoo.sources import open_zoo_spec

    images = open_zoo_spec(f"zoo:photos?n={N}&size={SIDE}").read_all()
    return images[torch.randperm(N, generator=torch.Generator().manual_seed(seed))]


@pytest.fixture()
def sets():
    return CountingSource(_photos(0), "real"), CountingSource(_photos(1), "fake")


def _plan_both(real, fake) -> SharedPasses:
    passes = SharedPasses("cpu")
    for source in (real, fake):
        plan_maps(passes, source, REP, None, seed=0)
    plan_atlas(passes, real, fake, "random-vgg16", "default", None, positions=2, max_images=None, input_size=None,
               seed=0)
    return passes


def test_regions_and_atlas_plan_one_pass_per_set(sets):
    real, fake = sets
    passes = _plan_both(real, fake)
    network = Network.of("vgg16", "random", 0, (SIDE, SIDE))
    assert passes.consumers(network, real, N) == (REGIONS, ATLAS)
    assert passes.consumers(network, fake, N) == (REGIONS, ATLAS)


def test_shared_pass_gives_each_view_what_its_own_path_gives(sets):
    real, fake = sets
    own_maps = feature_maps(real, REP, None)[0]
    model = resolve_model("random-vgg16", image_size=(SIDE, SIDE))
    own_acts = collect_activations(model, {"real": real, "fake": fake}, positions=2, seed=0)
    real.images_read = fake.images_read = 0

    passes = _plan_both(real, fake)
    shared_maps = feature_maps(real, REP, None, passes=passes)[0]
    network = Network.of("vgg16", "random", 0, (SIDE, SIDE))
    shared = [passes.take(ATLAS, network, source, N) for source in (real, fake)]
    shared_acts = collect_activations(model, {"real": real, "fake": fake}, positions=2, seed=0, shared=shared)

    torch.testing.assert_close(shared_maps, own_maps, rtol=1e-5, atol=1e-5)
    assert own_maps.abs().max() > 0
    assert list(shared_acts) == list(own_acts) == list(model.default_layers)
    for layer, own in own_acts.items():
        got = shared_acts[layer]
        np.testing.assert_allclose(got.values, own.values, rtol=1e-5, atol=1e-5)
        for name in ("set_index", "image_id", "yx", "boxes", "predicted"):
            np.testing.assert_array_equal(getattr(got, name), getattr(own, name), err_msg=f"{layer} {name}")
        assert got.grid_shape == own.grid_shape
    # Every image was read once for both views (plus regions' one-image probe), where the two paths
    # read each twice; the fake set, untouched by regions here, was read by the shared pass alone.
    assert real.images_read == N + 1
    assert fake.images_read == N


def test_a_lone_consumer_or_another_network_is_not_shared(sets):
    real, fake = sets
    network = Network.of("vgg16", "random", 0, (SIDE, SIDE))
    alone = SharedPasses("cpu")
    plan_maps(alone, real, REP, None, seed=0)
    assert alone.take(REGIONS, network, real, N) is None  # its own path (cache, torchrun sharding) runs

    passes = SharedPasses("cpu")
    plan_maps(passes, real, REP, None, seed=1)  # another seed: other random weights
    plan_atlas(passes, real, fake, "random-vgg16", "default", None, 2, None, None, seed=0)
    assert passes.take(REGIONS, Network.of("vgg16", "random", 1, (SIDE, SIDE)), real, N) is None
    passes = SharedPasses("cpu")
    plan_maps(passes, real, REP, None, seed=0)
    plan_atlas(passes, real, fake, "random-vgg16", "default", None, 2, None, input_size=64, seed=0)
    assert passes.take(REGIONS, network, real, N) is None  # the atlas reads 64-px copies
    assert Network.of("vgg16", "default", 3, (8, 8)) == Network.of("vgg16", "default", 0, (8, 8))


def test_a_consumer_asking_for_a_missing_layer_does_not_fail_the_others(sets):
    from genlens.errors import ConfigError

    real, fake = sets
    network = Network.of("vgg16", "random", 0, (SIDE, SIDE))
    passes = SharedPasses("cpu")
    plan_maps(passes, real, REP, None, seed=0)
    plan_atlas(passes, real, fake, "random-vgg16", "default", ["features.99"], 2, None, None, seed=0)
    torch.testing.assert_close(feature_maps(real, REP, None, passes=passes)[0], feature_maps(real, REP, None)[0],
                               rtol=1e-5, atol=1e-5)
    assert passes.take(ATLAS, network, real, N) is None  # its own path then names the missing layer
    model = resolve_model("random-vgg16", image_size=(SIDE, SIDE))
    with pytest.raises(ConfigError, match="features.99"):
        collect_activations(model, {"real": real}, ["features.99"], shared=[None])


def test_report_shares_the_pass_and_keeps_every_finding(sets, monkeypatch):
    """The report's sections are the same with the pass shared as with each view on its own."""
    from genlens.features import shared_pass
    from genlens.report.runner import Runner

    real, fake = sets
    options = {"atlas": {"method": "pca", "viewer": False, "splits": 2}, "regions": {"n_boot": 20}}
    runs = []
    original = shared_pass.SharedPasses._run

    def counting_run(self, group, module):
        runs.append(sorted(group.plans))
        return original(self, group, module)

    monkeypatch.setattr(shared_pass.SharedPasses, "_run", counting_run)
    shared = Runner(real, options, only=["regions", "atlas"]).sections(fake)
    assert runs == [["atlas", "regions"], ["atlas", "regions"]]  # one pass per set, both views served

    monkeypatch.setattr(shared_pass.SharedPasses, "take", lambda *args, **kwargs: None)
    alone = Runner(real, options, only=["regions", "atlas"]).sections(fake)
    for got, own in zip(shared, alone):
        assert got.status == own.status == "ok", (got.key, got.reason, own.reason)
        assert [(f.kind, f.where, f.significant) for f in got.findings] == \
            [(f.kind, f.where, f.significant) for f in own.findings]
        np.testing.assert_allclose([f.score for f in got.findings], [f.score for f in own.findings], rtol=1e-4)


def test_a_tracking_step_shares_the_pass_with_unchanged_measurements(sets, monkeypatch):
    """Tracking plans each step's images the same way: one pass for regions and the atlas, same numbers."""
    from dataclasses import replace

    from genlens.features import shared_pass
    from genlens.views import RunContext, get_view

    real, fake = sets
    ctx = RunContext(seed=0)
    views = {key: get_view(key) for key in ("regions", "atlas")}
    refs = {key: view.fit_tracking(real, view.options({"max_images": N}), ctx) for key, view in views.items()}
    images = fake.read(0, N)
    alone = {key: view.measure(refs[key], images, ctx, n_boot=5) for key, view in views.items()}

    runs = []
    original = shared_pass.SharedPasses._run
    monkeypatch.setattr(shared_pass.SharedPasses, "_run",
                        lambda self, group, module: runs.append(sorted(group.plans)) or original(self, group, module))
    passes = SharedPasses("cpu")
    for key, view in views.items():
        view.plan_measure(passes, refs[key], images, ctx)
    shared = {key: view.measure(refs[key], images, replace(ctx, passes=passes), n_boot=5)
              for key, view in views.items()}
    assert runs == [["atlas", "regions"]]
    for key in views:
        assert shared[key].values.keys() == alone[key].values.keys()
        for name, value in alone[key].values.items():
            np.testing.assert_allclose(shared[key].values[name].value, value.value, rtol=1e-5, err_msg=name)
        for name, array in alone[key].arrays.items():
            np.testing.assert_array_equal(shared[key].arrays[name], array, err_msg=name)
