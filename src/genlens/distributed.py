"""Many processes, one result: ``torchrun --nproc_per_node N -m genlens ...``.

Under ``torchrun`` every rank runs the same command. Every network pass over images -- feature
extraction, regions' feature maps, the atlas's activations, segmentation -- goes through
:func:`genlens.features.extract_features`, which then computes only this rank's chunks of the images
(chunks ``rank, rank + N, ...``, the same chunks and batches as one process uses) and gathers the
rows of every rank back into image order. So every rank holds exactly the features one process
would have computed, the analyses after them give identical numbers on every rank, and only rank 0
writes outputs (the others' ``--out``/``--json`` go to a throw-away folder). Backend: NCCL when
CUDA is present, else gloo (CPU).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

#: Options whose value is a path the command writes its results to (only rank 0 keeps them).
OUTPUT_FLAGS = ("--out", "--json", "--output", "-o")


def launched() -> bool:
    """Started by ``torchrun`` (or another launcher that sets ``WORLD_SIZE``) with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup() -> bool:
    """Join the process group the launcher describes (once); ``False`` when there is none to join."""
    import torch.distributed as dist

    if not launched() or not dist.is_available():
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return True


def teardown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes (``(0, 1)`` outside a process group)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return rank_and_world()[0] == 0


def _device() -> torch.device:
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def _all_gather(tensor: torch.Tensor, rows: int) -> list[torch.Tensor]:
    """Every rank's ``tensor``, each padded to ``rows`` rows for the collective and cut back after."""
    import torch.distributed as dist

    dev = _device()
    padded = torch.zeros((rows, *tensor.shape[1:]), dtype=tensor.dtype, device=dev)
    padded[: len(tensor)] = tensor.to(dev)
    parts = [torch.empty_like(padded) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, padded)
    return [p.cpu() for p in parts]


def gather_rows(arrays: dict[str, np.ndarray], indices: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The rows every rank computed (``arrays[name][i]`` is image ``indices[i]``), in image order ``0..n-1``."""
    counts = _all_gather(torch.tensor([[len(indices)]], dtype=torch.long), 1)
    sizes = [int(c[0, 0]) for c in counts]
    rows = max(sizes)
    where = [p[:s, 0] for p, s in zip(_all_gather(torch.from_numpy(np.asarray(indices, np.int64))[:, None], rows),
                                       sizes)]
    order = torch.cat(where)
    if sorted(order.tolist()) != list(range(n)):
        raise RuntimeError(f"ranks computed {len(order)} rows that do not cover the {n} images once each")
    out: dict[str, np.ndarray] = {}
    for name, local in arrays.items():
        # a rank with no rows holds a (0,) placeholder: take the row shape from a rank that has rows
        shape = torch.full((1, 8), -1, dtype=torch.long)
        if len(indices):
            shape[0, : local.ndim - 1] = torch.tensor(local.shape[1:], dtype=torch.long)
        row_shape = next(tuple(int(v) for v in p[0] if v >= 0) for p, s in zip(_all_gather(shape, 1), sizes) if s)
        local = np.ascontiguousarray(local, dtype=np.float32).reshape(len(indices), *row_shape)
        parts = _all_gather(torch.from_numpy(local), rows)
        full = torch.empty((n, *row_shape), dtype=parts[0].dtype)
        full[order] = torch.cat([p[:s] for p, s in zip(parts, sizes)])
        out[name] = full.numpy()
    return out


def rank_argv(argv: list[str], scratch: str) -> list[str]:
    """``argv`` with every output path (:data:`OUTPUT_FLAGS`) moved under ``scratch``: what ranks other
    than 0 run, so that only rank 0 writes results while every rank takes part in the collectives."""
    out: list[str] = []
    redirect = False
    for i, arg in enumerate(argv):
        flag, eq, _ = arg.partition("=")
        if redirect:
            out.append(os.path.join(scratch, f"out-{i}"))
            redirect = False
        elif eq and flag in OUTPUT_FLAGS:
            out.append(f"{flag}={os.path.join(scratch, f'out-{i}')}")
        else:
            out.append(arg)
            redirect = arg in OUTPUT_FLAGS
    return out


def run_command(main: Any) -> None:
    """Run the CLI's ``main`` as one rank of a ``torchrun`` job: join the group, keep rank 0's outputs."""
    import contextlib
    import sys
    import tempfile

    setup()
    rank, _ = rank_and_world()
    try:
        if rank == 0:
            main()
            return
        # Silent: rank 0 prints the one copy of every line, and meets the same input errors; a rank that
        # crashes alone still ends the job with its exit status, which torchrun reports.
        os.environ["GENLENS_QUIET"] = "1"
        with tempfile.TemporaryDirectory(prefix=f"genlens-rank{rank}-") as scratch, \
                open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            sys.argv = [sys.argv[0], *rank_argv(sys.argv[1:], scratch)]
            main()
    finally:
        teardown()
