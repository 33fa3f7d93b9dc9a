"""Segmentation statistics and FSD on synthetic label maps, checked against naive references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlens.errors import InputError, TooFewSamplesError
from genlens.semantics import (
    CallableSegmenter,
    class_areas,
    compare_areas,
    compare_sources,
    fsd,
    split_half_fsd,
)
from genlens.semantics.segmenter import segment_batch

PALETTE = np.array([[90, 140, 220], [60, 160, 60], [200, 40, 40], [240, 220, 60], [120, 70, 30]], np.uint8)
NAMES = ["sky", "grass", "car", "sun", "house"]


def render(n: int, seed: int, drop: int | None = None, p_present: float = 0.7, size: int = 16):
    """Scenes: top half sky, bottom half grass, then up to three rectangles of classes 2-4 (ground truth kept)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((n, size, size), np.int64)
    labels[:, size // 2 :] = 1
    for cls in (2, 3, 4):
        if cls == drop:
            continue
        present = rng.random(n) < p_present
        y0 = rng.integers(0, size - 4, n)
        x0 = rng.integers(0, size - 4, n)
        h = rng.integers(2, 6, n)
        w = rng.integers(2, 6, n)
        for i in np.flatnonzero(present):
            labels[i, y0[i] : y0[i] + h[i], x0[i] : x0[i] + w[i]] = cls
    images = PALETTE[labels].transpose(0, 3, 1, 2).copy()
    return images, labels


def palette_segmenter(images: torch.Tensor) -> torch.Tensor:
    """Class = nearest palette colour: an exact segmenter for the rendered scenes."""
    x = images.permute(0, 2, 3, 1).float()
    d = ((x[..., None, :] - torch.from_numpy(PALETTE).float()) ** 2).sum(-1)
    return d.argmin(-1)


SEG = CallableSegmenter(palette_segmenter, NAMES, name="palette")


def naive_areas(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.stack([[np.mean(lab == c) for c in range(n_classes)] for lab in labels])


def naive_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Independent Fréchet distance: symmetric square root by eigendecomposition (numpy only)."""
    mu = a.mean(0) - b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root @ s2 @ root)
    return float(mu @ mu + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


def test_class_areas_match_naive_count():
    labels = torch.randint(0, 7, (9, 5, 6))
    got = class_areas(labels, 7)
    np.testing.assert_allclose(got, naive_areas(labels.numpy(), 7), atol=1e-15)
    np.testing.assert_allclose(got.sum(1), 1.0)


def test_palette_segmenter_recovers_rendered_areas():
    images, labels = render(40, seed=1)
    seg = segment_batch(SEG, torch.from_numpy(images))
    np.testing.assert_array_equal(seg.numpy(), labels)


def test_segment_batch_rejects_bad_outputs():
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    with pytest.raises(InputError, match="shape"):
        segment_batch(CallableSegmenter(lambda x: torch.zeros(2, 4), NAMES), images)
    with pytest.raises(InputError, match="integer"):
        segment_batch(CallableSegmenter(lambda x: torch.zeros(2, 4, 4), NAMES), images)
    with pytest.raises(InputError, match="declares 5 classes"):
        segment_batch(CallableSegmenter(lambda x: torch.full((2, 4, 4), 5), NAMES), images)
    with pytest.raises(InputError, match="uint8"):
        segment_batch(SEG, images.float())


def test_fsd_reuses_metrics_frechet_distance(monkeypatch):
    import genlens.metrics

    rng = np.random.default_rng(0)
    a = rng.dirichlet(np.ones(5), 300)
    b = rng.dirichlet(np.arange(1, 6), 300)
    calls = []
    original = genlens.metrics.frechet_distance

    def spy(x, y, **kw):
        calls.append((np.asarray(x).copy(), np.asarray(y).copy()))
        return original(x, y, **kw)

    monkeypatch.setattr(genlens.metrics, "frechet_distance", spy)
    value = fsd(a, b)
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0][0], a)
    assert value == pytest.approx(float(original(a, b)), rel=1e-12)


def test_fsd_matches_independent_reference_and_drops_empty_columns():
    rng = np.random.default_rng(1)
    a = np.concatenate([rng.dirichlet(np.ones(6), 400), np.zeros((400, 3))], 1)
    b = np.concatenate([rng.dirichlet(np.linspace(0.5, 3, 6), 500), np.zeros((500, 3))], 1)
    keep = slice(0, 6)
    assert fsd(a, b) == pytest.approx(naive_frechet(a[:, keep], b[:, keep]), rel=1e-8)
    assert fsd(a, a) == pytest.approx(0.0, abs=1e-12)


def test_planted_missing_class_is_found_and_clean_set_stays_within_noise():
    _, real = render(600, seed=0)
    _, clean = render(600, seed=1)
    _, dropped = render(600, seed=2, drop=2)
    real_a, clean_a, drop_a = (naive_areas(x, 5) for x in (real, clean, dropped))

    bad = compare_areas(real_a, drop_a, NAMES, n_boot=400, seed=0)
    car = bad.by_name("car")
    assert bad.classes[0].name == "car"  # most under-represented
    assert car.fake_area == 0 and car.fake_presence == 0
    assert car.area_ratio == 0.0
    assert car.area_diff_ci[1] < 0
    assert [c.name for c in bad.under_represented()] [0] == "car"

    good = compare_areas(real_a, clean_a, NAMES, n_boot=400, seed=0)
    assert bad.fsd > 20 * bad.fsd_floor
    assert good.fsd < 4 * good.fsd_floor
    assert good.fsd < bad.fsd / 20
    assert max(abs(c.z) for c in good.classes) < 4


def test_statistics_match_closed_forms():
    rng = np.random.default_rng(3)
    real = rng.dirichlet(np.ones(4), 800)
    fake = rng.dirichlet(np.array([1.0, 1.0, 1.0, 0.5]), 700)
    fake[rng.random(700) < 0.3, 3] = 0.0
    res = compare_areas(real, fake, list("abcd"), n_boot=2000, seed=1, presence_threshold=0.0)
    for stat in res.classes:
        j = stat.index
        diff = fake[:, j].mean() - real[:, j].mean()
        se = np.sqrt(real[:, j].var(ddof=1) / 800 + fake[:, j].var(ddof=1) / 700)
        assert stat.area_diff == pytest.approx(diff, abs=1e-15)
        assert stat.z == pytest.approx(diff / se, rel=1e-10)
        assert stat.real_presence == pytest.approx(np.mean(real[:, j] > 0))
        assert stat.fake_presence == pytest.approx(np.mean(fake[:, j] > 0))
        # The percentile bootstrap CI of a mean difference is close to the normal interval diff +- 1.96 se.
        lo, hi = stat.area_diff_ci
        assert lo == pytest.approx(diff - 1.96 * se, abs=0.2 * se)
        assert hi == pytest.approx(diff + 1.96 * se, abs=0.2 * se)
    assert [c.z for c in res.classes] == sorted(c.z for c in res.classes)


def test_floor_is_rescaled_split_half_fsd():
    rng = np.random.default_rng(4)
    real = rng.dirichlet(np.ones(5), 400)
    fake = rng.dirichlet(np.ones(5), 200)
    res = compare_areas(real, fake, list("abcde"), n_boot=50, seed=7)
    assert res.fsd_floor_half == pytest.approx(split_half_fsd(real, 5, 7))
    assert res.fsd_floor == pytest.approx(res.fsd_floor_half * (1 / 400 + 1 / 200) / (2 / 200))


def test_ignore_index_and_absent_classes():
    rng = np.random.default_rng(5)
    real = np.concatenate([rng.dirichlet(np.ones(3), 50), np.zeros((50, 1))], 1)
    fake = np.concatenate([rng.dirichlet(np.ones(3), 50), np.zeros((50, 1))], 1)
    res = compare_areas(real, fake, ["void", "a", "b", "never"], ignore_index=0, n_boot=20)
    assert {c.name for c in res.classes} == {"a", "b"}
    assert res.absent_classes == ("never",)
    d = res.to_dict()
    assert set(d["classes"][0]) >= {"name", "real_area", "fake_area", "real_presence", "fake_presence", "ci"}


def test_bad_input_is_a_clear_error():
    good = np.full((5, 3), 1 / 3)
    with pytest.raises(InputError, match="NaN"):
        compare_areas(np.full((5, 3), np.nan), good, list("abc"))
    with pytest.raises(TooFewSamplesError):
        compare_areas(good[:1], good, list("abc"))
    with pytest.raises(InputError, match="same segmenter"):
        compare_areas(good, np.full((5, 4), 0.25), list("abc"))
    with pytest.raises(InputError, match="class names"):
        compare_areas(good, good, list("ab"))


def test_compare_sources_end_to_end_on_arrays():
    from genlens.io import ArraySource

    real_images, _ = render(200, seed=10)
    fake_images, _ = render(200, seed=11, drop=4)
    result = compare_sources(ArraySource(real_images), ArraySource(fake_images), SEG, n_boot=200, batch_size=64)
    assert result.comparison.classes[0].name == "house"
    d = result.to_dict()
    assert d["segmenter"] == "palette" and d["units"] == "fraction"
    assert d["fsd_percent2"] == pytest.approx(1e4 * d["fsd"])
    figures = result.figures()
    assert [f.name for f in figures] == ["areas", "presence"]
    assert all(f.png.startswith(b"\x89PNG") for f in figures)


def test_batches_that_would_not_fit_in_memory_are_refused_before_segmenting(monkeypatch):
    """A batch of large images is refused in one line, naming the option that shrinks it; a smaller
    batch of the same images passes the check."""
    import genlens._memory as memory
    from genlens.errors import MemoryNeedError
    from genlens.io import ArraySource
    from genlens.semantics.segmenter import LABEL_BYTES, segment_source

    calls = []

    def segmenter(images):
        calls.append(len(images))
        return torch.zeros(images.shape[0], *images.shape[2:], dtype=torch.int64)

    segmenter.classes = ["background", "object"]
    images = ArraySource(np.zeros((8, 3, 64, 64), np.uint8))
    monkeypatch.setattr(memory, "free_bytes", lambda device=None: LABEL_BYTES * 4 * 64 * 64)  # 4 images' worth
    with pytest.raises(MemoryNeedError, match=r"segmenting batches of 8 images of 64x64 .* semantics.batch_size"):
        segment_source(images, segmenter, batch_size=8)
    assert calls == []
    areas = segment_source(images, segmenter, batch_size=2)
    assert calls == [2, 2, 2, 2] and areas.shape == (8, 2)
