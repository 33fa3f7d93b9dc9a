"""Figures and the one-sentence finding of the standard-metrics section."""

from __future__ import annotations

from typing import TYPE_CHECKING

from genlens.views.section import Figure

if TYPE_CHECKING:
    from genlens.metrics.standard import MetricEstimate, StandardMetrics

_LABELS = {"fid": "FD", "kid": "KID", "is": "IS", "mmd": "MMD² (RBF)", "cms": "CMS (RBF)"}
_FAKE, _MATCHED, _FLOOR = "#2f5d8a", "#8fb3d6", "#9aa3ad"


def label(name: str) -> str:
    return _LABELS.get(name, name)


def metrics_figure(result: "StandardMetrics") -> Figure:
    """One small panel per metric (scales differ): generated value with its CI, and at half size the
    generated-vs-real value beside the real-vs-real floor."""
    from genlens.plotting import pyplot

    plt = pyplot()
    ests = result.estimates
    cols = min(5, len(ests))
    rows = -(-len(ests) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.5 * rows), squeeze=False)
    for ax in axes.flat[len(ests) :]:
        ax.axis("off")
    for ax, est in zip(axes.flat, ests):
        _panel(ax, est)
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=c) for c in (_FAKE, _MATCHED, _FLOOR)
    ]
    fig.legend(
        handles,
        [f"generated, all samples ({result.level:.0%} CI)", "generated, half size", "real vs real (floor)"],
        loc="lower center",
        ncol=3,
        frameon=False,
        fontsize=8,
        bbox_to_anchor=(0.5, -0.02),
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    caption = (
        f"Each metric in {result.extractor.get('name', '?')} features. Dark bar: generated vs all real samples with "
        f"its {result.level:.0%} bootstrap interval. Light bars, at half the real set's size: generated vs one real "
        "half, and the two real halves against each other -- the floor a perfect generator would reach. "
        "A dark/light bar far from the grey one is a real difference; one within the spread is noise."
    )
    return Figure.from_matplotlib("bars", fig, caption=caption)


def _panel(ax, est: "MetricEstimate") -> None:
    names, values, colors, errs = ["all"], [est.value], [_FAKE], [None]
    if est.matched is not None:
        names.append("half"), values.append(est.matched), colors.append(_MATCHED), errs.append(None)
    if est.floor is not None:
        names.append("floor"), values.append(est.floor), colors.append(_FLOOR), errs.append(None)
    ax.bar(range(len(values)), values, color=colors, width=0.7)
    if est.ci is not None:
        lo, hi = est.ci
        ax.errorbar([0], [est.value], yerr=[[max(est.value - lo, 0)], [max(hi - est.value, 0)]], color="black", capsize=3, lw=1)
    ax.set_xticks(range(len(values)), names, fontsize=8)
    arrow = "↑" if est.higher_is_better else "↓"
    ax.set_title(f"{label(est.name)} {arrow}", fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    if est.name in ("precision", "recall", "coverage", "cms"):
        ax.set_ylim(0, max(1.0, *values) * 1.05)


def summary_sentence(result: "StandardMetrics") -> str:
    """The key finding: every metric beyond its floor (or plainly none), then the headline distance and
    which of fidelity/diversity suffers."""
    if not result.estimates:
        return "No metric could be computed."
    names = {e.name: e for e in result.estimates}
    findings = result.findings()
    beyond = sorted((f for f in findings if f.significant), key=lambda f: -f.score)
    if beyond:
        lead = "Beyond their real-vs-real floor: " + "; ".join(f.sentence for f in beyond)
        within = [f.sentence.split()[0] for f in findings if not f.significant]
        parts = [lead + (f" (within noise: {', '.join(within)})" if within else "")]
    elif findings:
        parts = [f"Every metric is within noise of its real-vs-real floor ({len(findings)} judged)"]
    elif not any(e.floor is not None for e in result.estimates):
        parts = ["No metric was judged against a real-vs-real floor (none computed: pass --floor)"]
    else:
        parts = ["No metric could be judged against its floor (no intervals: run with --n-boot > 0)"]
    head = names.get("fid") or names.get("kid") or names.get("mmd") or result.estimates[0]
    text = f"{label(head.name)} {head.value:.4g}"
    if head.ci:
        text += f" ({result.level:.0%} CI {head.ci[0]:.4g}–{head.ci[1]:.4g})"
    if head.matched is not None and head.floor is not None:
        text += f"; at half size {head.matched:.4g} vs a real-vs-real floor of {head.floor:.4g}"
        verdict = _verdict(head)
        if verdict:
            text += f" ({verdict})"
    parts.append(text)
    pr = _prdc_finding(names)
    if pr:
        parts.append(pr)
    return "; ".join(parts) + "."


def _verdict(est: "MetricEstimate") -> str:
    """Plain words for matched vs floor (both at half size)."""
    assert est.matched is not None and est.floor is not None
    worse = est.floor - est.matched if est.higher_is_better else est.matched - est.floor
    scale = max(abs(est.floor), 1e-12)
    if worse <= 0:
        return "indistinguishable from real at this sample size"
    ratio = worse / scale
    if not est.higher_is_better and est.floor > 0:
        return f"{est.matched / est.floor:.1f}× the floor"
    return f"{ratio:.0%} worse than the floor"


def _prdc_finding(names: dict[str, "MetricEstimate"]) -> str:
    """Which suffers more relative to the floor: fidelity (precision) or diversity (recall/coverage)."""
    if not {"precision", "recall"} <= set(names):
        return ""
    p, r = names["precision"], names["recall"]
    text = f"precision {p.value:.2f}, recall {r.value:.2f}"
    if p.floor is None or r.floor is None or p.matched is None or r.matched is None:
        return text
    p_gap, r_gap = p.floor - p.matched, r.floor - r.matched
    if max(p_gap, r_gap) < 0.05:
        return text + " (both near their floors)"
    if r_gap > p_gap:
        return text + f" -- diversity is what suffers most: recall is {r_gap:.2f} below its floor (missing modes or regions of the real data)"
    return text + f" -- fidelity is what suffers most: precision is {p_gap:.2f} below its floor (samples off the real manifold)"
