"""The latent-manifold view as a report :class:`Section`: ranked dimensions and entangled pairs."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from genlens.manifold import figures
from genlens.manifold.result import CrossManifoldResult, ManifoldResult
from genlens.views.section import Figure, Section, Table

KEY = "manifold"
TITLE = "Latent manifold"


def summary_sentence(res: ManifoldResult) -> str:
    """One sentence with the key finding."""
    parts = [f"{res.n_active} of {res.latent_dim} latent dimensions are active"]
    if res.n_active:
        top = ", ".join(f"z{i}" for i in res.order[: min(3, res.n_active)])
        parts.append(f"the strongest are {top}")
    if res.total_correlation is not None:
        parts.append(f"total correlation {res.total_correlation:.3g} nats")
    pairs = res.top_pairs(1)
    if pairs:
        i, j, v = pairs[0]
        parts.append(f"most entangled pair z{i}-z{j} ({v:.3g} nats)")
    return "; ".join(parts) + "."


def ranking_table(res: ManifoldResult) -> Table:
    """One row per dimension in entropy order, with its interval and its most entangled partner."""
    rows = []
    for rank, dim in enumerate(res.order, start=1):
        lo, hi = res.entropy_ci[dim]
        partner, partner_mi = "", None
        if res.pairwise_mi is not None and res.latent_dim > 1 and res.active[dim]:
            row = res.pairwise_mi[dim].copy()
            row[dim] = -np.inf
            j = int(np.argmax(row))
            if row[j] > 1e-6:
                partner, partner_mi = f"z{j}", float(row[j])
        rows.append((rank, f"z{dim}", float(res.entropy[dim]), float(lo), float(hi),
                     "yes" if res.active[dim] else "no", partner, partner_mi))
    return Table(
        columns=("rank", "latent", "H_i (nats)", "95% low", "95% high", "active", "most entangled with", "MI (nats)"),
        rows=tuple(rows),
    )


def build_section(
    res: ManifoldResult,
    name: str = "model",
    others: Mapping[str, ManifoldResult] | None = None,
    cross: CrossManifoldResult | None = None,
) -> Section:
    """The section for ``res`` (spectra of ``others`` overlaid; a cross-model panel when given)."""
    models = {name: res, **dict(others or {})}
    figs = [Figure.from_matplotlib("entropy-spectrum", figures.entropy_spectrum(models),
                                   "Sorted per-dimension manifold entropy; hollow markers are inactive.")]
    if res.pairwise_mi is not None and res.latent_dim > 1:
        figs.append(Figure.from_matplotlib("pairwise-mi", figures.mi_heatmap(res),
                                           "Pairwise manifold MI, dimensions in entropy order."))
    if any(r.total_correlation is not None for r in models.values()):
        figs.append(Figure.from_matplotlib("decomposition", figures.entropy_decomposition(models),
                                           "Sum of per-dimension entropies = joint entropy + total correlation."))
    columns = figures.column_images(res)
    if columns is not None:
        caption = "Averaged Jacobian columns of the strongest dimensions (each scaled to its own maximum)."
        figs.append(Figure.from_matplotlib("jacobian-columns", columns, caption))
    data = {"model": name, **res.to_dict()}
    if others:
        data["compared"] = {k: v.to_dict() for k, v in others.items()}
    if cross is not None:
        figs.append(Figure.from_matplotlib("cross-model-mi", figures.cross_mi_figure(cross),
                                           "Cross-model manifold MI beside the Pearson correlation of latents."))
        data["cross_model"] = cross.to_dict()
    return Section(key=KEY, title=TITLE, summary=summary_sentence(res), figures=tuple(figs),
                   table=ranking_table(res), data=data, notes=notes(res))


def notes(res: ManifoldResult) -> tuple[str, ...]:
    """The choices behind the numbers, stated next to them."""
    out = [
        (f"Entropies include h0 = {res.h0:.4f} nats per dimension." if res.h0 > 0
         else "Entropies exclude the constant h0 = 1/2 log(2 pi e)."),
        (f"Inactive: a one-std move changes the output by less than {res.inactive_tol:g} x its value range "
         f"({res.output_range:.3g}), RMS per output value; inactive dimensions are ranked last, have MI 0 "
         "and are left out of the total entropy and total correlation."),
        f"Monte Carlo over {res.n} prior samples ({res.mode} Jacobians); intervals: {res.n_boot} bootstrap resamples.",
    ]
    if res.classes:
        out.append(f"Class-conditional: metrics averaged over {len(res.classes)} classes.")
    return tuple(out)
