"""Pixel-wise CKA: our one-GEMM engine against a naive per-pair implementation written here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlens.errors import ConfigError, InputError, TooFewSamplesError
from genlens.regions.bandwidth import gamma_from_median, median_sq_distance
from genlens.regions.cka import pixel_cka


def _naive_gram(v: np.ndarray, kernel: str, gamma: float) -> np.ndarray:
    n = v.shape[0]
    k = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            if kernel == "rbf":
                k[i, j] = np.exp(-gamma * np.sum((v[i] - v[j]) ** 2))
            else:
                k[i, j] = float(v[i] @ v[j])
    return k


def _naive_hsic(k: np.ndarray, l: np.ndarray, estimator: str) -> float:
    n = k.shape[0]
    if estimator == "biased":  # Gretton et al. 2005: tr(KHLH) / (n-1)^2
        h = np.eye(n) - np.ones((n, n)) / n
        return float(np.trace(k @ h @ l @ h)) / (n - 1) ** 2
    # Song et al. 2012, unbiased HSIC with zero-diagonal Gram matrices
    kt, lt = k - np.diag(np.diag(k)), l - np.diag(np.diag(l))
    one = np.ones(n)
    term = (
        np.trace(kt @ lt)
        + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * (one @ kt @ lt @ one)
    )
    return float(term) / (n * (n - 3))


def _naive_cka(x: np.ndarray, kernel: str, estimator: str, gamma: float) -> np.ndarray:
    n, h, w, c = x.shape
    sites = x.reshape(n, h * w, c)
    grams = [_naive_gram(sites[:, p], kernel, gamma) for p in range(h * w)]
    d = h * w
    out = np.empty((d, d))
    for p in range(d):
        for q in range(d):
            num = _naive_hsic(grams[p], grams[q], estimator)
            den = np.sqrt(_naive_hsic(grams[p], grams[p], estimator) * _naive_hsic(grams[q], grams[q], estimator))
            out[p, q] = num / den
    return out


def _correlated_images(rng: np.random.Generator, n: int, h: int = 3, w: int = 3, c: int = 3) -> np.ndarray:
    z = rng.normal(size=(n, 1, 1, c))
    return np.tanh(0.7 * z + 0.6 * rng.normal(size=(n, h, w, c)))


@pytest.mark.parametrize("kernel", ["rbf", "linear"])
@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
@pytest.mark.parametrize("batch_size", [None, 10])
def test_cka_matches_naive_per_pair(rng, kernel, estimator, batch_size) -> None:
    x = _correlated_images(rng, 30)
    gamma = gamma_from_median(median_sq_distance(x))
    ours = pixel_cka(x, gamma=gamma, kernel=kernel, estimator=estimator, batch_size=batch_size)
    groups = [x] if batch_size is None else np.array_split(x, 3)
    naive = np.mean([_naive_cka(g, kernel, estimator, gamma) for g in groups], axis=0)
    np.testing.assert_allclose(ours, naive, atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours, ours.T, atol=1e-12)


def test_chunking_does_not_change_the_result(rng) -> None:
    x = _correlated_images(rng, 40, h=4, w=4)
    gamma = gamma_from_median(median_sq_distance(x))
    whole = pixel_cka(x, gamma=gamma, batch_size=None)
    tiny_chunks = pixel_cka(x, gamma=gamma, batch_size=None, chunk_mb=1e-4)
    np.testing.assert_allclose(tiny_chunks, whole, atol=1e-12)


def test_many_channels_per_site(rng) -> None:
    x = _correlated_images(rng, 12, h=2, w=2, c=10)
    gamma = gamma_from_median(median_sq_distance(x))
    np.testing.assert_allclose(pixel_cka(x, gamma=gamma, batch_size=None), _naive_cka(x, "rbf", "biased", gamma), atol=1e-6)


def test_constant_pixel_gets_zero_cka_not_nan(rng) -> None:
    x = _correlated_images(rng, 20)
    x[:, 1, 1, :] = 0.25
    gamma = gamma_from_median(median_sq_distance(x))
    for estimator in ("biased", "unbiased"):
        cka = pixel_cka(x, gamma=gamma, estimator=estimator, batch_size=None)
        assert np.isfinite(cka).all()
        p = 1 * 3 + 1
        assert cka[p, p] == 1.0
        assert np.all(np.delete(cka[p], p) == 0.0)


def test_bad_inputs_raise_clear_errors(rng) -> None:
    x = _correlated_images(rng, 20)
    with pytest.raises(TooFewSamplesError):
        pixel_cka(x[:3], gamma=1.0)
    with pytest.raises(TooFewSamplesError):
        median_sq_distance(x[:1])
    with pytest.raises(InputError, match="identical"):
        median_sq_distance(np.zeros((10, 3, 3, 3)))
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        pixel_cka(bad, gamma=1.0)
    with pytest.raises(ConfigError):
        pixel_cka(x, gamma=None, kernel="rbf")
    with pytest.raises(ConfigError):
        pixel_cka(x, gamma=1.0, kernel="poly")
    with pytest.raises(ConfigError):
        gamma_from_median(1.0, bandwidth_scale=0.0)
    with pytest.raises(InputError):
        pixel_cka(np.zeros((20, 3)), gamma=1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_matches_cpu(rng) -> None:
    x = _correlated_images(rng, 40, h=4, w=4)
    gamma = gamma_from_median(median_sq_distance(x))
    np.testing.assert_allclose(pixel_cka(x, gamma=gamma, device="cuda"), pixel_cka(x, gamma=gamma, device="cpu"), atol=1e-10)


def test_large_grid_matches_dense_reference(rng) -> None:
    """d = 576 > one GEMM block: the block-triangular accumulation and mirroring are exact."""
    x = _correlated_images(rng, 12, h=24, w=24)
    gamma = gamma_from_median(median_sq_distance(x))
    sites = x.reshape(12, -1, 3).transpose(1, 0, 2)  # (d, n, C)
    sq = ((sites[:, :, None, :] - sites[:, None, :, :]) ** 2).sum(-1)
    h = np.eye(12) - 1.0 / 12
    centred = (h @ np.exp(-gamma * sq) @ h).reshape(sites.shape[0], -1)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    np.testing.assert_allclose(pixel_cka(x, gamma=gamma, batch_size=None), centred @ centred.T, atol=1e-12)
