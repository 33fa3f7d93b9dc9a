"""The ``learned`` feature space: trained on the real set only, deterministic, cached, and useful."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlens.errors import ConfigError
from genlens.features import extract_features, get_extractor
from genlens.features import learned
from genlens.features.augment import Augment
from genlens.features.learned import LearnedExtractor, LearnedRecipe, encoder_key, train_encoder
from genlens.features.space import extract
from genlens.io import ArraySource
from genlens.views.base import RunContext
from genlens.zoo import make_generator, real_source

#: A recipe small enough for a test: a few steps of small batches at 32 px.
TINY = LearnedRecipe(steps=6, batch_size=32, width=8, dim=32)


@pytest.fixture
def real() -> ArraySource:
    return ArraySource(real_source(64, seed=0).read_all(), name="real")


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[torch.Tensor]:
    """The image batches every training run saw (training still runs)."""
    seen: list[torch.Tensor] = []
    fit = learned.fit_contrastive

    def recording(encoder, images, recipe, device):  # noqa: ANN001, ANN202
        seen.append(images.clone())
        return fit(encoder, images, recipe, device)

    monkeypatch.setattr(learned, "fit_contrastive", recording)
    return seen


def _weights(encoder: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in encoder.state_dict().items()}


def test_augment_is_seeded_and_keeps_range() -> None:
    x = torch.rand(8, 3, 32, 32)
    one = Augment()(x, torch.Generator().manual_seed(3))
    two = Augment()(x, torch.Generator().manual_seed(3))
    assert one.shape == x.shape and torch.equal(one, two)
    assert float(one.min()) >= 0.0 and float(one.max()) <= 1.0
    assert not torch.equal(one, Augment()(x, torch.Generator().manual_seed(4)))


def test_same_seed_same_weights_and_the_callers_rng_is_untouched(real: ArraySource, tmp_path) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = train_encoder(real, TINY, cache_dir=tmp_path / "a", device="cpu")
    assert torch.equal(torch.rand(3), expected)
    b = train_encoder(real, TINY, cache_dir=tmp_path / "b", device="cpu")
    c = train_encoder(real, LearnedRecipe(**{**TINY.to_dict(), "seed": 1, "augment": TINY.augment}),
                      cache_dir=tmp_path / "c", device="cpu")
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.record["weights_sha256"] == b.record["weights_sha256"] != c.record["weights_sha256"]
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_second_call_loads_the_cached_encoder(real: ArraySource, tmp_path, spy: list[torch.Tensor]) -> None:
    first = train_encoder(real, TINY, cache_dir=tmp_path, device="cpu")
    second = train_encoder(real, TINY, cache_dir=tmp_path, device="cpu")
    assert len(spy) == 1
    path = tmp_path / "learned" / f"{encoder_key(real, TINY)}.pt"
    assert path.exists() and first.path == second.path == str(path)
    state = torch.load(path, weights_only=True)  # a plain state dict, no pickled objects
    assert set(state) == set(first.state_dict())
    assert first.record == second.record


def test_fingerprint_depends_on_the_real_set_not_on_the_file(real: ArraySource, tmp_path) -> None:
    other = ArraySource(real_source(64, seed=5).read_all(), name="other")
    assert encoder_key(real, TINY) != encoder_key(other, TINY)
    a = get_extractor("learned", real=real, recipe=TINY, cache_dir=tmp_path, device="cpu")
    b = get_extractor("learned", real=other, recipe=TINY, cache_dir=tmp_path, device="cpu")
    assert a.fingerprint() != b.fingerprint()
    assert a.describe()["weights_sha256"] != b.describe()["weights_sha256"]
    moved = tmp_path / "elsewhere.pt"
    moved.write_bytes(open(a.weights_file, "rb").read())
    assert get_extractor("learned", weights=moved, device="cpu").fingerprint() == a.fingerprint()


def test_outputs_have_the_documented_shapes(real: ArraySource, tmp_path) -> None:
    encoder = train_encoder(real, TINY, cache_dir=tmp_path, device="cpu")
    ext = LearnedExtractor(encoder, device="cpu")
    assert ext.outputs == ("features",) and ext.input_size == (32, 32) and ext.dim == TINY.dim
    feats = ext(real.read(0, 5))["features"]
    assert torch.allclose(feats.norm(dim=1), torch.ones(5), atol=1e-5)  # L2-normalised
    maps = LearnedExtractor(encoder, layers=",".join(learned.BLOCKS), spatial=True, device="cpu")
    w = TINY.width
    assert maps.output_shapes() == {"block1": (w, 16, 16), "block2": (2 * w, 8, 8), "block3": (4 * w, 4, 4),
                                    "block4": (TINY.dim, 2, 2)}
    pooled = LearnedExtractor(encoder, layers="block2", device="cpu")
    assert pooled.output_shapes() == {"block2": (2 * w,)}
    big = ArraySource(real_source(3, seed=0, size=64).read_all(), name="big")  # resized to the trained 32 px
    assert extract_features(big, ext, cache_dir=False).shape == (3, TINY.dim)


def test_learned_needs_the_real_set() -> None:
    with pytest.raises(ConfigError, match="trained on the real images"):
        get_extractor("learned")
    with pytest.raises(ConfigError, match="trained on the real images"):
        extract(real_source(8, seed=0), "learned", device="cpu", cache_dir=False)


def test_metrics_view_trains_once_on_real_and_never_on_generated(real: ArraySource, tmp_path,
                                                                  spy: list[torch.Tensor]) -> None:
    from genlens.metrics.view import MetricsOptions, MetricsView

    fake = ArraySource(make_generator("drop_class", name="car").as_source(48).read_all(), name="fake")
    view, ctx = MetricsView(), RunContext(device="cpu", cache_dir=tmp_path)
    options = MetricsOptions(features="learned", metrics=("fid", "prdc"), n_boot=0,
                             feature_options=(("recipe", TINY.to_dict()),))
    fitted = view.fit(real, options, ctx)
    result = view.compare(fitted, fake, ctx)
    view.measure(view.fit_tracking(real, options, ctx), fake.read_all(), ctx, n_boot=0)
    assert len(spy) == 1 and torch.equal(spy[0], real.read_all())  # trained once, on exactly the real images
    assert result.extractor["name"] == "learned"
    assert result.extractor["fingerprint"] == fitted.extractor.fingerprint()

    folder = tmp_path / "ref"
    folder.mkdir()
    view.save_reference(fitted, folder)
    loaded = view.load_reference(folder, ctx)  # rebuilt from the recorded weights file, not trained
    measured = view.measure(loaded, fake.read_all(), ctx, n_boot=0)
    assert len(spy) == 1 and np.isfinite(measured.values["metrics/fid"].value)
    assert loaded.extractor.fingerprint() == fitted.extractor.fingerprint()


def test_atlas_model_reads_a_trained_encoder_file(real: ArraySource, tmp_path) -> None:
    from genlens.atlas.model import resolve_model

    encoder = train_encoder(real, TINY, cache_dir=tmp_path, device="cpu")
    model = resolve_model("learned", weights=encoder.path, image_size=(32, 32))
    assert model.default_layers == ("block2", "block3", "block4") and model.input_size == (32, 32)
    with pytest.raises(ConfigError, match="atlas model factory is not given"):
        resolve_model("learned", image_size=(32, 32))


@pytest.mark.slow
def test_dropped_class_is_farther_from_real_than_a_clean_generator(tmp_path) -> None:
    """The world's real set trains the space; dropping cars must move FD and recall past the floor."""
    from genlens.features.space import FeatureSet, feature_extractor
    from genlens.metrics.reference import MetricsReference

    real = real_source(600, seed=0)
    ext = feature_extractor("learned", real.image_size, "cpu", tmp_path, {"recipe": LearnedRecipe(steps=20)},
                            train_on=real)

    def features(source) -> FeatureSet:  # noqa: ANN001
        return extract(source, "learned", "cpu", tmp_path, 256, extractor=ext)

    reference = MetricsReference(features(real_source(500, seed=2)), metrics=("fid", "prdc"), n_boot=0)
    clean = reference.compare(features(make_generator("clean").as_source(500)), floor=True)
    dropped = reference.compare(features(make_generator("drop_class", name="car").as_source(500)), floor=True)
    fd_floor = dropped.estimate("fid").floor
    assert dropped.value("fid") > 2 * clean.value("fid") and dropped.estimate("fid").matched > 2 * fd_floor
    assert dropped.estimate("recall").matched < dropped.estimate("recall").floor - 0.05
    assert clean.estimate("recall").matched > clean.estimate("recall").floor - 0.05


def test_regions_cluster_a_learned_feature_map_trained_on_real_only(real: ArraySource, tmp_path,
                                                                    spy: list[torch.Tensor]) -> None:
    from genlens.regions.view import RegionsView

    fake = ArraySource(make_generator("clean").as_source(64).read_all(), name="fake")
    view, ctx = RegionsView(), RunContext(device="cpu", cache_dir=tmp_path)
    options = view.options({"representation": "learned:block2", "n_boot": 0, "clusters": 2})
    result = view.compare(view.fit(real, options, ctx), fake, ctx)
    assert len(spy) == 1 and torch.equal(spy[0], real.read_all())  # the real images trained it, nothing else
    assert result.representation == "learned:block2" and result.site == (4, 4)  # 32 px -> an 8x8 map
    assert result.partition.labels.shape == (8, 8)


def test_comparing_two_sets_of_plain_images_defaults_to_the_learned_space() -> None:
    from genlens.features.space import resolve_feature_space

    plain = ArraySource(np.zeros((4, 3, 16, 16), np.uint8))
    assert resolve_feature_space("auto", plain, plain, real_given=True) == "learned"
    assert resolve_feature_space("auto", plain) == "random-vgg16"  # one set alone: nothing to train on
    assert resolve_feature_space("auto", real_source(4), real_given=True) == "zoo-classifier"
