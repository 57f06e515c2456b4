"""PNG figures (matplotlib figures drawn without pyplot: no display needed, and the
caller's pyplot backend is left alone; ``matplotlib.use("Agg")`` at import switched a
notebook's, whose ``plt.show()`` then showed nothing).

* :func:`bar_figure` -- one metric, methods x tasks, mean with std error bars; a cell
  missing some of its column's seeds (``n=k/m`` in the tables) is hatched, one without a
  run marked "no run";
* :func:`curves_figure` -- training curves from the records' ``history`` (e.g. the
  monitors' scores), mean over seeds per table cell (row, and column when several);
* :func:`tsne_figure` -- 2-d t-SNE of source and target embeddings, coloured by
  domain and by cluster (for before / after adaptation figures).
"""

from __future__ import annotations

import hashlib
import numbers
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from dtc._validation import check_seed, is_int_at_least
from dtc.experiment.report import METRIC_NAMES, cell_names, unique_runs
from dtc.experiment.store import replace_file

__all__ = ["bar_figure", "curves_figure", "report_figures", "tsne_figure"]


#: The widest panel of a bar chart, and each bar's share of it (inches): a table of many
#: columns is drawn as several panels one above the other (one strip per table, with a
#: 29 x 36 table, was 36,584 x 466 px: unreadable at any size).
MAX_PANEL_WIDTH_IN = 14.0
BAR_WIDTH_IN = 0.12
GROUP_GAP_IN = 0.5


def row_colours(n: int) -> list:
    """``n`` colours, distinct up to 60: matplotlib's default cycle repeats after 10, and
    rows 0 and 10 of a table (or two curves) were drawn alike."""
    from matplotlib import colormaps

    names = ["tab10"] if n <= 10 else ["tab20"] if n <= 20 else ["tab20", "tab20b", "tab20c"]
    palette = [c for name in names for c in colormaps[name].colors]
    return [palette[i % len(palette)] for i in range(n)]


def bar_figure(table, path: Path) -> Path:
    """Grouped bars of ``table`` (a :class:`~dtc.experiment.report.ResultTable`): the mean
    over seeds of each cell with its std (ddof=1) as the error bar, none for a cell of one
    seed (the tables print no "± 0.0" either); several panels sharing the y axis when the
    columns do not fit one (:data:`MAX_PANEL_WIDTH_IN`)."""
    from matplotlib.patches import Patch

    n_rows, n_cols = len(table.rows), len(table.columns)
    group_in = GROUP_GAP_IN + BAR_WIDTH_IN * max(n_rows, 1)
    # (at least one panel: a table without columns drew an empty figure, and still does)
    n_panels = max(1, -(-n_cols // max(1, int(MAX_PANEL_WIDTH_IN // group_in))))
    per_panel = max(1, -(-n_cols // n_panels))  # as many columns in each panel as can be
    width = 0.8 / max(n_rows, 1)
    fig = Figure(figsize=(max(6.0, group_in * per_panel), 3.6 * n_panels))
    axes = fig.subplots(n_panels, 1, sharey=True, squeeze=False)[:, 0]
    colours = row_colours(n_rows)
    marks = set()
    for p, ax in enumerate(axes):
        columns = table.columns[p * per_panel : (p + 1) * per_panel]
        x = np.arange(len(columns))
        for i, row in enumerate(table.rows):
            cells = [table.cells[row].get(c) for c in columns]
            at = x + (i - (n_rows - 1) / 2) * width
            means = np.array([c.mean if c else np.nan for c in cells])
            bars = ax.bar(at, means, width, color=colours[i])
            spread = np.array([c is not None and c.n > 1 for c in cells])
            if spread.any():
                stds = np.array([c.std for c in cells if c is not None and c.n > 1])
                ax.errorbar(
                    at[spread],
                    means[spread],
                    yerr=stds,
                    fmt="none",
                    ecolor="black",
                    elinewidth=0.8,
                    capsize=2,
                )
            for bar, cell, where in zip(bars, cells, at):
                if cell is None:  # drew no bar, as a score of 0 does
                    mark = "no run"
                elif not np.isfinite(cell.mean):  # a run without a number: no bar either
                    mark = "n/a"
                else:
                    mark = None
                if mark:
                    ax.text(where, 0, mark, rotation=90, ha="center", va="bottom", fontsize=6)
                    marks.add(mark)
                if cell is not None and not cell.complete:  # fewer seeds: not comparable
                    bar.set_hatch("//")
        ax.set_xlim(-0.5, per_panel - 0.5)  # the same bar width in every panel
        ax.set_xticks(x, columns, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(f"{METRIC_NAMES.get(table.metric, table.metric)} (%)")  # as the tables
    notes = ["error bars: ± std over seeds (ddof=1), none for one seed"]
    if table.incomplete:  # as the tables' n=k/m
        notes.append("hatched: a cell missing some of its column's seeds")
    if "n/a" in marks:
        notes.append("n/a: runs without a value")
    axes[0].set_title("; ".join(notes), fontsize=8)
    # Outside the axes, to the right: inside ("best") it covered bars of most groups. Plain
    # patches: a legend taken from the bars showed a row as hatched when its first cell
    # was, and matplotlib leaves out of an automatic legend any label that starts with
    # "_" (a config's row "_base" was drawn but unnamed).
    axes[0].legend(
        [Patch(facecolor=c) for c in colours],
        list(table.rows),
        fontsize=7,
        ncol=max(1, n_rows // 8),
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
    )
    fig.tight_layout()
    with replace_file(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")  # the legends outside included
    return path


def mean_curve(runs: list[list[float]]) -> np.ndarray:
    """The per-epoch mean ``(max length,)`` of runs of different lengths, over the runs that
    recorded a finite value at that epoch; NaN (a gap in the plot) where none did, as in the
    pretraining epochs of an alignment loss."""
    length = max(len(v) for v in runs)
    padded = np.full((len(runs), length), np.nan)
    for i, v in enumerate(runs):
        padded[i, : len(v)] = v
    finite = np.isfinite(padded)
    counts = finite.sum(axis=0)
    # not np.nanmean: it warns on every all-NaN epoch
    total = np.where(finite, padded, 0.0).sum(axis=0)
    return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)


def curves_figure(records: list[dict], key: str, path: Path) -> Path:
    """``history[*][key]`` against the epoch, averaged over the seeds of each table
    cell: one line per row of the per-pair tables (label, data settings, grid point,
    what tells configurations apart) and, when there are several, per column."""
    records = unique_runs(records)
    names = cell_names(records)
    several_columns = len({col for _, col in names}) > 1
    curves = defaultdict(list)
    for r, (row, col) in zip(records, names):
        values = [_number(h.get(key)) for h in r.get("history", [])]
        if any(np.isfinite(values)):
            curves[f"{row}, {col}" if several_columns else row].append(values)
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.subplots()
    handles = []
    colours = row_colours(len(curves))
    for i, (label, runs) in enumerate(curves.items()):
        mean = mean_curve(runs)
        # markers: a key logged once per stage (DTC's discrepancy with one adaptation
        # epoch) has isolated points, which a line alone leaves invisible
        x = np.arange(1, mean.size + 1)
        style = ("-", "--", ":", "-.")[i // 60 % 4]  # past the 60 colours, another dash
        handles += ax.plot(x, mean, style, color=colours[i], label=label, marker=".", markersize=3)
    # a history's entries in order: every stage's epochs one after the other (a DTC fit's
    # pretraining, adaptation, self-training rounds), whose own epoch numbers restart
    ax.set_xlabel("history entry (epochs of every stage, in order)")
    ax.set_ylabel(key)
    # outside the axes: long "row, column" labels made it wider than the figure; the labels
    # given explicitly, as the bars' ("_base" would be left out)
    ax.legend(handles, list(curves), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    with replace_file(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")  # the legends outside included
    return path


#: History keys that count (epochs, self-training rounds, iterations): the x of a curve,
#: no curve of their own.
COUNTER_KEYS = frozenset({"epoch", "round", "iteration", "step"})


def _number(value) -> float:
    """A history value as a float: NaN for what is no real number (a ``stage`` name, the
    ``null`` a JSON writer puts for NaN), which failed ``np.isfinite`` with a TypeError."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return np.nan


def curve_keys(records: list[dict]) -> list[str]:
    """The history keys with a real-number value somewhere, counters left out: the curves
    a report draws (and ``scripts/figures.py``)."""
    keys = {
        k
        for r in records
        for h in r.get("history", [])
        for k, v in h.items()
        if np.isfinite(_number(v))
    }
    return sorted(keys - COUNTER_KEYS)


def report_figures(records: list[dict], tables, out_dir: Path) -> list[Path]:
    """A bar chart per table and a curve per numeric history key (counters left out)."""
    out = [bar_figure(t, out_dir / f"{t.metric}.png") for t in tables]
    out += [curves_figure(records, k, curve_path(out_dir, k)) for k in curve_keys(records)]
    return out


def curve_path(out_dir: Path, key: str) -> Path:
    """Where the curve of history key ``key`` goes in ``out_dir``: ``curve_<key>.png``,
    the key made safe for a file name (:func:`_file_part`)."""
    return out_dir / f"curve_{_file_part(key)}.png"


def _file_part(key: str) -> str:
    """``key`` (a history entry's name, which a user's method chooses: ``"loss/align"``)
    as part of a file name in the report folder: kept when it is letters, digits, ``_``,
    ``-`` and ``.``; otherwise those kept, the rest ``_``, and a hash of ``key`` added, so
    that it names no other folder and two keys never share a file."""
    if re.fullmatch(r"[\w.-]+", key, flags=re.ASCII):
        return key
    safe = re.sub(r"[^\w.-]", "_", key, flags=re.ASCII)
    return f"{safe}_{hashlib.sha256(key.encode('utf-8')).hexdigest()[:8]}"


def tsne_figure(
    embeddings: dict, path: Path, *, seed: int = 0, title: str = "", max_points: int = 500
) -> Path:
    """t-SNE panels (van der Maaten & Hinton, JMLR 2008): for each
    ``name -> (source_emb (n_s, k), target_emb (n_t, k), target_clusters (n_t,))`` one
    row of two panels, coloured by domain and by cluster.

    At most ``max_points`` samples per domain are drawn (seeded): t-SNE is quadratic-ish
    and a few hundred points show the structure as well as thousands. Every panel draws
    from the same seed, so panels of the same sizes (before / after adaptation) show the
    same samples.
    """
    from sklearn.manifold import TSNE

    # numpy's words named neither ("negative dimensions are not allowed", "SeedSequence
    # expects int"), and max_points=0 read as an empty panel ("has 0 points")
    seed = check_seed(seed, owner="tsne_figure")
    if not is_int_at_least(max_points, 2):
        raise ValueError(
            "tsne_figure: max_points must be an int >= 2 (samples drawn per domain; t-SNE "
            f"needs at least 3 points a panel), got {max_points!r}"
        )

    def pick(rng: np.random.Generator, n: int) -> np.ndarray:
        return np.sort(rng.choice(n, size=min(n, max_points), replace=False))

    fig = Figure(figsize=(9.0, 4.2 * len(embeddings)))
    axes = fig.subplots(len(embeddings), 2, squeeze=False)
    for (name, (zs, zt, clusters)), (ax_dom, ax_clu) in zip(embeddings.items(), axes):
        # a generator per panel: one shared by all drew the second panel's rows after the
        # first's, and "before" and "after" showed other points (275 of 500 in both)
        rng = np.random.default_rng(seed)
        keep = pick(rng, len(zt))
        zs, zt, clusters = zs[pick(rng, len(zs))], zt[keep], np.asarray(clusters)[keep]
        z = np.vstack([zs, zt])
        if len(z) < 3:
            raise ValueError(
                f"tsne_figure: panel {name!r} has {len(z)} points; t-SNE needs at least 3"
            )
        # scikit-learn needs 0 < perplexity < n: n // 4 was 0 below 4 points
        perplexity = min(30, max(1, len(z) // 4))
        xy = TSNE(2, random_state=seed, init="pca", perplexity=perplexity).fit_transform(z)
        ns = len(zs)
        ax_dom.scatter(*xy[:ns].T, s=4, c="tab:blue", label="source", alpha=0.6)
        ax_dom.scatter(*xy[ns:].T, s=4, c="tab:orange", label="target", alpha=0.6)
        ax_dom.legend(markerscale=3)
        ax_dom.set_title(f"{name}: by domain")
        ax_clu.scatter(*xy[ns:].T, s=4, c=clusters, cmap="tab20")
        ax_clu.set_title(f"{name}: target by cluster")
        for ax in (ax_dom, ax_clu):
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with replace_file(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")  # the legends outside included
    return path
