"""Pretrained weights: a table of known files, download to the cache, SHA-256 check, offline mode.

Files live in ``default_cache_dir()/weights/<file name>``; a copy that torch.hub already downloaded
(``$TORCH_HOME/hub/checkpoints/<file name>``, e.g. by pytorch-fid) is used in place. A file is accepted only if it passes its check:

* the full SHA-256 when the table records one (strict);
* otherwise the SHA-256 *prefix* in the file name (torch.hub's ``name-<sha256 prefix>.pth`` convention,
  used by pytorch-fid and torchvision). We record the full digest where we know it; for the FID Inception
  only the prefix ``6726825d`` is published, so that is what is checked -- 32 bits, enough to catch a
  truncated or wrong file, not a deliberate forgery.

A file that fails its check is refused and never loaded. With ``GENLENS_OFFLINE=1`` nothing is downloaded;
a missing file raises :class:`~genlens.errors.WeightsError` naming the URL and the exact path to place it at.
Every load goes through :func:`genlens.plugins.load_state_dict` (``torch.load(..., weights_only=True)``):
a weights file can hold tensors, never code.
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlens import plugins
from genlens._fs import atomic_path, default_cache_dir
from genlens._hashing import sha256_file
from genlens.errors import ConfigError, InputError, WeightsError

_HASH_IN_NAME = re.compile(r"-([0-9a-f]{6,64})\.[A-Za-z0-9]+$")


@dataclass(frozen=True)
class WeightsSpec:
    """One known weights file: where it comes from and how it is checked."""

    name: str
    url: str
    filename: str
    sha256: str | None = None

    @property
    def sha256_prefix(self) -> str | None:
        """The digest prefix embedded in the file name, if any."""
        match = _HASH_IN_NAME.search(self.filename)
        return match.group(1) if match else None

    @property
    def check(self) -> str:
        """How strictly this file is verified, for provenance records."""
        if self.sha256:
            return "sha256"
        return f"sha256-prefix:{self.sha256_prefix}" if self.sha256_prefix else "none"


KNOWN_WEIGHTS: dict[str, WeightsSpec] = {
    "fid-inception-v3": WeightsSpec(
        name="fid-inception-v3",
        url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
        filename="pt_inception-2015-12-05-6726825d.pth",
    ),
}


def weights_dir() -> Path:
    """Where downloaded weights are kept."""
    return default_cache_dir() / "weights"


def offline() -> bool:
    """True when ``GENLENS_OFFLINE`` forbids downloads."""
    return os.environ.get("GENLENS_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def torchvision_weights_spec(arch: str) -> WeightsSpec:
    """The default ImageNet weights torchvision lists for ``arch`` (its URL; hash from its file name)."""
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(arch)
    except (ValueError, KeyError):
        raise ConfigError(f"torchvision has no pretrained weights for {arch!r}") from None
    url = enum.DEFAULT.url
    return WeightsSpec(name=f"torchvision:{arch}", url=url, filename=url.rsplit("/", 1)[-1])


def verify(path: Path, spec: WeightsSpec) -> str:
    """Full SHA-256 of ``path``; raises :class:`WeightsError` if it contradicts ``spec``."""
    digest = sha256_file(path)
    expected = spec.sha256 or spec.sha256_prefix
    if expected and not digest.startswith(expected.lower()):
        raise WeightsError(
            f"{path} does not match the {spec.name} weights (SHA-256 {digest[:16]}..., expected "
            f"{expected[:16]}...); refusing to load it. Delete it and download {spec.url} again."
        )
    return digest


def download(url: str, dest: Path) -> None:
    """Copy ``url`` (http(s) or file://) to ``dest``. Tests replace this function; nothing else downloads."""
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:  # noqa: S310
        shutil.copyfileobj(response, out, length=1 << 20)


def fetch(spec: WeightsSpec) -> Path:
    """Path of the verified weights file for ``spec``, downloading it first unless offline."""
    target = weights_dir() / spec.filename
    if target.exists():
        verify(target, spec)
        return target
    # pytorch-fid, torch-fidelity and torchvision download through torch.hub: reuse such a file (checked).
    hub_copy = Path(torch.hub.get_dir()) / "checkpoints" / spec.filename
    if hub_copy.is_file():
        verify(hub_copy, spec)
        return hub_copy
    if offline():
        raise WeightsError(
            f"the {spec.name} weights are not cached and GENLENS_OFFLINE is set, so genlens will not download "
            f"them. Download {spec.url} by hand and put it at {target}"
        )
    try:
        with atomic_path(target) as tmp:
            download(spec.url, tmp)
            verify(tmp, spec)
    except WeightsError:
        raise
    except OSError as err:
        raise WeightsError(
            f"could not download the {spec.name} weights from {spec.url}: {err}. "
            f"Download the file by hand and put it at {target}"
        ) from None
    return target


def load_state_dict(path: str | Path) -> dict[str, Any]:
    """:func:`genlens.plugins.load_state_dict` (``weights_only=True``), failing as a :class:`WeightsError`:
    an unreadable weights file is a weights problem, whatever the reason."""
    try:
        return plugins.load_state_dict(path)
    except InputError as err:
        raise WeightsError(f"cannot load weights from {path}: {err}") from None


def load_into(module: torch.nn.Module, state: dict[str, Any], source: str) -> None:
    """``load_state_dict(strict=True)`` with a :class:`WeightsError` that names the file on mismatch."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise WeightsError(f"weights in {source} do not fit {type(module).__name__}: {str(err)[:500]}") from None
