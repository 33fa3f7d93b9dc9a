"""``genlens regions``: pixel clusters of the real data and the cluster-wise CMS of a generator."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from genlens.cli import app


@app.command("regions")
def regions_command(
    real: str = typer.Argument(..., help="Real images: a folder, a .npy/.npz array, or a zoo spec ('zoo:real?n=500').",
                               show_default=False),
    fake: str = typer.Argument(..., help="Generated images, in any form REAL accepts.", show_default=False),
    clusters: Optional[int] = typer.Option(
        None, "--clusters", "-k", min=1, show_default=False,
        help="Number of pixel clusters (default: the largest-gap rule on the dendrogram, 2..--k-max).",
    ),
    k_max: int = typer.Option(12, "--k-max", min=2, help="Upper bound for the automatic number of clusters."),
    partition: Optional[Path] = typer.Option(
        None, "--partition", show_default=False,
        help="Reuse a saved partition (.npz or .json) instead of clustering REAL again (same clusters and bandwidth).",
    ),
    save_partition: Optional[Path] = typer.Option(
        None, "--save-partition", show_default=False,
        help="Save the partition used (.npz keeps the CKA matrix; .json is smaller) for later checkpoints.",
    ),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the results as JSON here.", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the figures (PNG) into this folder.",
                                       show_default=False),
    distance: str = typer.Option("profile", "--distance",
                                 help="Clustering distance: profile (Euclidean between CKA rows, the paper) or one_minus_cka."),
    cka_estimator: str = typer.Option("biased", "--cka-estimator", help="HSIC estimator for CKA: biased or unbiased."),
    cka_batch: int = typer.Option(100, "--cka-batch", min=4, help="Images per CKA batch (0 = pool all images)."),
    estimator: str = typer.Option("biased", "--estimator", help="CMS estimator: biased (V-statistic) or unbiased."),
    mode: str = typer.Option("pooled", "--mode", help="CMS form: pooled, or minibatch (averaged over batch pairs)."),
    bandwidth_scale: float = typer.Option(
        1.0, "--bandwidth-scale", min=1e-6,
        help="Multiply the median-heuristic bandwidth; < 1 makes CMS more sensitive to fine/noise defects.",
    ),
    n: Optional[int] = typer.Option(2000, "--n", min=8, help="Use at most the first N images of each input."),
    n_boot: int = typer.Option(200, "--n-boot", min=0, help="Bootstrap resamples for the CIs (0 = none)."),
    level: float = typer.Option(0.95, "--level", min=0.5, max=0.999, help="Confidence level of the CIs."),
    seed: int = typer.Option(0, "--seed", help="Seed for bootstrap resamples and real half-splits."),
    device: str = typer.Option("auto", "--device", help="auto (GPU when present), cpu, cuda, ..."),
) -> None:
    """Split the image into nearly independent pixel clusters (pixel-wise CKA on REAL) and report,
    per cluster, the cosine similarity of kernel mean embeddings (CMS) of FAKE vs REAL.

    Example: genlens regions zoo:real?n=500 'zoo:blur_region?box=8,8,20,20&n=500' -k 8 --json regions.json --out regions/
    """
    from genlens.errors import ConfigError
    from genlens.io.sources import open_source
    from genlens.regions.analysis import analyze_regions
    from genlens.regions.cms import CmsPlan
    from genlens.regions.figures import cluster_map, cms_bars, deficit_map, ordered_cka
    from genlens.regions.partition import PixelPartition
    from genlens.cli._common import write_json

    if partition is not None and clusters is not None:
        raise ConfigError("--clusters and --partition exclude each other: a saved partition fixes the clusters")
    plan = CmsPlan(estimator=estimator, mode=mode, n_boot=n_boot, level=level, seed=seed)  # type: ignore[arg-type]
    result = analyze_regions(
        open_source(real),
        open_source(fake),
        partition=PixelPartition.load(partition) if partition else None,
        clusters=clusters,
        plan=plan,
        bandwidth_scale=bandwidth_scale,
        max_images=n,
        device=device,
        k_max=k_max,
        distance=distance,
        estimator=cka_estimator,
        batch_size=cka_batch or None,
    )
    if save_partition:
        result.partition.save(save_partition)
    if json_out:
        write_json(json_out, result.to_dict())
    if out:
        from genlens._fs import atomic_write_bytes

        for fig in (cluster_map(result), ordered_cka(result), cms_bars(result), deficit_map(result)):
            if fig is not None:
                atomic_write_bytes(Path(out) / f"regions-{fig.name}.png", fig.png)
    typer.echo(result.to_section().summary)
    for c in result.clusters:
        flag = "  <- below floor" if c.significant else ""
        typer.echo(
            f"  cluster {c.id:>2} ({c.n_pixels:>5} px): CMS {c.cms:.5f} "
            f"[{c.ci[0]:.5f}, {c.ci[1]:.5f}]  floor {c.floor:.5f}  share {c.share:6.1%}{flag}"
        )
