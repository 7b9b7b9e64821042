"""The report's plots: matplotlib (Agg) to SVG, each with a caption saying what is measured
and which way is better."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from viewfinder.report.data import numbers  # noqa: E402
from viewfinder.report.model import Card, ReportData  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # real text in the SVG: small files, selectable labels
    "svg.hashsalt": "viewfinder",  # stable ids: the same data gives the same file
    "text.parse_math": False,  # "$" in a model or emotion name is just a dollar sign
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
}
PALETTE = ["#3b6ea5", "#e07b39", "#5a9e6f", "#b04a5a", "#8c6bb1", "#c9a227", "#4aa3b0", "#777777"]


@dataclass(frozen=True)
class Plot:
    """One figure written under report/plots/: its file (relative to report/) and caption."""

    key: str
    path: str
    title: str
    caption: str


def _short(text: str, width: int = 28) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _save(fig: Any, out_dir: Path, key: str) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{key}.svg"
    fig.savefig(target, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return f"plots/{key}.svg"


def _save_panels(fig: Any, title: str, out_dir: Path, key: str) -> str:
    """A figure of one panel per measure, under one bold title, saved as :func:`_save` does."""
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return _save(fig, out_dir, key)


def adherence_plot(data: ReportData, out_dir: Path) -> Plot | None:
    """Adherence rate per dimension and method, one bar per model, with 95% intervals."""
    score = data.score
    if score is None or not score.dimensions:
        return None
    models = data.models
    dims = score.dimensions
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 0.55 * len(dims) * max(1, len(models)) + 1.4))
        height = 0.8 / max(1, len(models))
        for j, model in enumerate(models):
            ys, xs, lo, hi = [], [], [], []
            for i, dim in enumerate(dims):
                rate = dim.per_model.get(model)
                if rate is None or rate.rate is None:
                    continue
                ys.append(i + j * height)
                xs.append(rate.rate)
                lo.append(rate.rate - (rate.ci_low if rate.ci_low is not None else rate.rate))
                hi.append((rate.ci_high if rate.ci_high is not None else rate.rate) - rate.rate)
            ax.barh(
                ys,
                xs,
                height=height * 0.9,
                color=PALETTE[j % len(PALETTE)],
                label=_short(model, 40),
                xerr=[lo, hi],
                capsize=3,
                error_kw={"elinewidth": 1, "ecolor": "#333"},
            )
        ax.set_yticks([i + height * (len(models) - 1) / 2 for i in range(len(dims))])
        ax.set_yticklabels([_short(d.label, 34) for d in dims])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of judged images that follow the prompt (0-1, higher is better)")
        ax.axvline(0.5, color="#bbb", lw=0.8, ls=":")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        ax.set_title("Prompt adherence per dimension")
        path = _save(fig, out_dir, "adherence")
    return Plot(
        "adherence",
        path,
        "Prompt adherence per dimension",
        "Share of judged images that follow each prompt dimension, per model and judging method; "
        "bars show the rate, whiskers its 95% Wilson interval. Higher is better; images that could "
        "not be judged (no face, unclear) are left out of the denominator.",
    )


def scores_plot(data: ReportData, out_dir: Path) -> Plot | None:
    """Mean of each continuous score per model with its 95% bootstrap interval."""
    score = data.score
    results = [
        r for r in (score.scores if score is not None else []) if any(m.mean is not None for m in r.per_model.values())
    ]
    if not results:
        return None
    models = data.models
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            1, len(results), figsize=(2.9 * len(results) + 0.8, 0.45 * len(models) + 1.8), squeeze=False
        )
        for ax, result in zip(axes[0], results, strict=True):
            for j, model in enumerate(models):
                mean = result.per_model.get(model)
                if mean is None or mean.mean is None:
                    continue
                low = mean.mean - (mean.ci_low if mean.ci_low is not None else mean.mean)
                high = (mean.ci_high if mean.ci_high is not None else mean.mean) - mean.mean
                ax.errorbar([mean.mean], [j], xerr=[[low], [high]], fmt="o", color=PALETTE[j % len(PALETTE)], capsize=3)
            ax.set_yticks(range(len(models)))
            ax.set_yticklabels([_short(m.split(":")[-1], 18) for m in models] if ax is axes[0][0] else [])
            ax.set_ylim(-0.6, len(models) - 0.4)
            ax.invert_yaxis()
            arrow = {"higher": "higher is better →", "lower": "← lower is better"}.get(result.direction, "")
            ax.set_title(_short(result.label, 30), fontsize=9)
            ax.set_xlabel(f"{_short(result.unit, 24)}\n{arrow}", fontsize=8)
        path = _save_panels(fig, "Scores per model (mean, 95% interval)", out_dir, "scores")
    directions = "; ".join(f"{r.label}: {r.unit}, {r.direction} is better" for r in results)
    return Plot(
        "scores",
        path,
        "Scores per model",
        "Mean of each score over a model's images, with its 95% bootstrap interval (from the scoring "
        f"stage). {directions}.",
    )


def _values(cards: Sequence[Card], key: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for card in cards:
        for _, rows in card.sections:
            for f in rows:
                if f.key == key and f.value is not None:
                    out[card.model].append(f.value)
    return out


def distributions_plot(data: ReportData, out_dir: Path) -> Plot | None:
    """Box plots of the main numbers per model, each panel titled with its scale and direction."""
    values = {k: _values(data.cards, k) for k in numbers(data.specs, plot=True)}
    keys = [k for k, per_model in values.items() if any(per_model.values())]
    if not keys:
        return None
    models = data.models
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys) + 0.6, 3.4), squeeze=False)
        for ax, key in zip(axes[0], keys, strict=True):
            spec = data.specs[key]
            series = [values[key].get(m, []) for m in models]
            parts = ax.boxplot(
                [s if s else [np.nan] for s in series],
                patch_artist=True,
                widths=0.6,
                showfliers=False,
                medianprops={"color": "#222"},
            )
            for patch, colour in zip(parts["boxes"], PALETTE, strict=False):
                patch.set_facecolor(colour)
                patch.set_alpha(0.75)
            ax.set_xticks(range(1, len(models) + 1))
            ax.set_xticklabels([_short(m.split(":")[-1], 16) for m in models], rotation=20, ha="right", fontsize=8)
            arrow = {"higher": "↑ higher is better", "lower": "↓ lower is better"}.get(spec.better, "")
            ax.set_title(f"{spec.analyzer}.{spec.name}", fontsize=9)
            ax.set_ylabel(f"{_short(spec.unit, 30)}\n{arrow}".strip(), fontsize=8)
        path = _save_panels(fig, "Quality numbers per model", out_dir, "distributions")
    directions = "; ".join(f"{data.specs[k].name}: {data.specs[k].unit}, {data.specs[k].direction}" for k in keys)
    return Plot(
        "distributions",
        path,
        "Quality numbers per model",
        f"Distribution over images of each number, one box per model (median line, quartile box, "
        f"whiskers to the furthest value within 1.5 IQR; outliers not drawn). {directions}.",
    )


def heatmap_cells(data: ReportData, dimension: str, method: str) -> dict[tuple[str, str], list[int]]:
    """(camera, emotion) -> [followed, judged] of ``dimension`` by ``method``."""
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for card in data.cards:
        for v in card.verdicts:
            if v.dimension == dimension and v.method == method and v.outcome != "not judged":
                cell = cells[(card.camera_label, card.fields.get("emotion", ""))]
                cell[0] += v.outcome == "follows"
                cell[1] += 1
    return cells


def heatmap_figure(data: ReportData, dimension: str, method: str) -> Any | None:
    """Camera position x emotion: adherence rate of ``dimension`` by ``method`` in each cell; None
    when there is nothing to draw or only one cell (a one-camera, one-emotion study: the rate is
    in the researcher's sentences, a one-cell map would say nothing more)."""
    cells = heatmap_cells(data, dimension, method)
    if len(cells) < 2:
        return None
    cameras = [c for c in data.cameras if any(k[0] == c for k in cells)]
    emotions = [e for e in data.emotions if any(k[1] == e for k in cells)]
    grid = np.full((len(cameras), len(emotions)), np.nan)
    for (camera, emotion), (k, n) in cells.items():
        grid[cameras.index(camera), emotions.index(emotion)] = k / n
    label = dimension.replace("_", " ")
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(
            figsize=(1.3 * len(emotions) + 3.2, max(3.2, 0.55 * len(cameras) + 2.2)), layout="constrained"
        )
        image = ax.imshow(grid, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
        ax.set_xticks(range(len(emotions)))
        ax.set_xticklabels([_short(e, 18) for e in emotions], rotation=30, ha="right")
        ax.set_yticks(range(len(cameras)))
        ax.set_yticklabels([_short(c, 26) for c in cameras])
        for (camera, emotion), (k, n) in cells.items():
            i, j = cameras.index(camera), emotions.index(emotion)
            dark = k / n < 0.15 or k / n > 0.85  # the colour map's dark ends: white text stays readable
            ax.text(
                j, i, f"{k / n:.2f}\n{k}/{n}", ha="center", va="center", fontsize=8, color="#fff" if dark else "#111"
            )
        bar = fig.colorbar(image, ax=ax, fraction=0.08)
        bar.set_label("share that follows\n(0-1, higher is better)", fontsize=8)
        ax.spines[:].set_visible(False)
        # the title over the whole figure, so it never runs into the colour bar's label
        fig.suptitle(
            f"{label.capitalize()} adherence ({method})\nby camera and emotion", fontweight="bold", fontsize=10
        )
    return fig


def heatmap_plot(data: ReportData, out_dir: Path, dimension: str, method: str) -> Plot | None:
    """The heatmap of ``heatmap_figure`` written as an SVG."""
    fig = heatmap_figure(data, dimension, method)
    if fig is None:
        return None
    label = dimension.replace("_", " ")
    key = f"heatmap_{dimension.replace(' ', '_')}_{method}"
    with plt.rc_context(STYLE):
        path = _save(fig, out_dir, key)
    return Plot(
        key,
        path,
        f"{label.capitalize()} adherence by camera position and emotion ({method})",
        f"Share of judged images whose {label} follows the prompt, for each requested camera position "
        f"(rows) and emotion (columns), judged by the {method}; each cell shows the rate and k/n. "
        "Higher (green) is better; empty cells had no judged image.",
    )


def render_plots(data: ReportData, out_dir: Path) -> list[Plot]:
    """Write every plot the data supports; returns them in reading order."""
    plots = [adherence_plot(data, out_dir), scores_plot(data, out_dir), distributions_plot(data, out_dir)]
    for dimension in ("emotion", "camera_angle"):
        methods = dict.fromkeys(v.method for card in data.cards for v in card.verdicts if v.dimension == dimension)
        for method in methods:
            plots.append(heatmap_plot(data, out_dir, dimension, method))
    return [p for p in plots if p is not None]
