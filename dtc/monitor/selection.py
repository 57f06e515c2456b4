"""Label-free source selection and model selection for transfer clustering.

**Source selection.** Given several candidate sources for one target,
:func:`rank_sources` predicts their transferability without target labels from two
signals: the source-target discrepancy (squared MMD with a Gaussian kernel at the median
bandwidth, Gretton et al., JMLR 2012, on fixed subsamples of the raw features) and the
label-free score of the target partition after a short adaptation on that source. A
source close to the target whose short adaptation yields a well-separated target
partition ranks first (as in transferability estimation by domain discrepancy, Ben-David
et al., Machine Learning 2010). With ``check_sources=True`` every candidate first goes
through the negative-transfer monitor's source checks with their defaults
(:func:`dtc.monitor.relatedness.check_source`: features that do not correspond, a
structure drowned in noise; the class-agreement check, which depends on the estimator,
only runs in a monitor inside ``fit_fn``); a candidate that fails is not adapted and gets
weight 0, unless every candidate fails (then all are ranked, with a
warning). It is off by default: on ``scripts/source_selection.py``'s six targets (true
sources among permuted, corrupted and other-benchmark ones) discrepancy and score alone
already chose a true source every time and the oracle's source 4 times (README, "Source
and model selection"), and the checks
(with their current defaults) change no choice; they save the adaptation to each candidate
that fails.

:func:`select_source` returns the best source, or a combined source sampled from all of
them in proportion to their weights (:func:`combine_sources`), which any method that
takes one source can use.

**Model selection.** :func:`select_model` fits every candidate (alignment weight, loss,
number of clusters, ...) and keeps the one whose target partition scores best by a
label-free criterion (default the k-NN agreement of
:func:`dtc.monitor.scores.knn_agreement`). Every candidate's partition is scored on the *same* matrix, the
raw target features, because the candidates' embedding spaces differ (see
:mod:`dtc.monitor.negative_transfer` for why scores in different spaces are not
comparable).

Target labels are removed before anything is fitted or scored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from dtc._validation import check_bool, check_number, check_seed, float_array
from dtc._warnings import warn
from dtc.cluster.kmeans import check_int
from dtc.data.domain import Domain, DomainPair, benchmark_of
from dtc.monitor import scores
from dtc.monitor.partition_score import (
    COLLAPSED,
    check_scored_rows,
    common_space_score,
    is_collapsed,
    unusable_reason,
    usable_scores,
)
from dtc.monitor.relatedness import check_source

# Rows of each domain the source checks see (as the monitor's default ``max_samples``).
_CHECK_ROWS = 1000

__all__ = [
    "ModelSelection",
    "check_domains",
    "combine_sources",
    "rank_sources",
    "select_model",
    "select_source",
    "source_discrepancy",
]


def _criterion_fn(criterion, owner: str) -> Callable:
    """``criterion`` (a score name or a callable) as ``f(X_target, labels, estimator, name)``
    -> float, or None for a partition that a score name cannot score because it is collapsed
    (:func:`~dtc.monitor.partition_score.is_collapsed`: one cluster on the scored rows).
    A callable is given every partition, collapsed ones too, and its value is taken as it is
    when finite; a NaN or infinite value is refused (``ValueError`` from ``owner`` naming the
    candidate ``name``): it would be ranked, or weigh every candidate, as no number does."""
    if callable(criterion):

        def call(X, labels, estimator, name):
            value = float(criterion(X, labels, estimator))
            if not np.isfinite(value):
                raise ValueError(
                    f"{owner}: the criterion {getattr(criterion, '__name__', criterion)!r} "
                    f"gave {value} for candidate {name!r}; it must return a finite float "
                    "(higher is better)"
                )
            return value

        return call
    usable = usable_scores()
    if criterion not in usable:
        raise ValueError(
            f"criterion must be one of {usable} or a callable (X_target, labels, estimator) -> "
            f"float, got {criterion!r}{unusable_reason(criterion)}"
        )
    return lambda X, labels, estimator, name: (
        None if is_collapsed(labels) else common_space_score(criterion, labels, [X])
    )


@contextlib.contextmanager
def _candidate(owner: str, name) -> Iterator[None]:
    """A candidate's fit or score that raises names the candidate (a ``ValueError`` stays
    one; any other error becomes a ``RuntimeError``): "diverged" alone did not say which
    of the candidates it came from."""
    try:
        yield
    except ValueError as exc:
        raise ValueError(f"{owner}: candidate {name!r}: {exc}") from exc
    except Exception as exc:
        raise RuntimeError(
            f"{owner}: candidate {name!r} raised {type(exc).__name__}: {exc}"
        ) from exc


def _target_labels(owner: str, estimator, name, n: int, rows: np.ndarray) -> np.ndarray:
    """The fitted ``estimator``'s ``labels_`` on the scored target ``rows``; ``ValueError``
    from ``owner`` naming candidate ``name`` unless ``labels_`` holds one label per target
    row (``(n,)``): labels of other rows (e.g. source and target stacked) would be scored
    against target rows they do not belong to."""
    labels = np.asarray(getattr(estimator, "labels_", None))
    if labels.shape != (n,):
        raise ValueError(
            f"{owner}: candidate {name!r} must have labels_ of shape ({n},) after fitting, one "
            f"per target row; got shape {labels.shape}"
        )
    return labels[rows]


def _check_criterion_rows(owner, criterion, n_clusters, n, max_samples, hint="") -> None:
    """Before anything is fitted: ``ValueError`` when the ``min(n, max_samples)`` scored
    target rows are too few for the score ``criterion`` to score ``n_clusters`` clusters
    (a callable criterion decides for itself)."""
    if not callable(criterion) and n_clusters is not None:
        check_scored_rows(owner, criterion, int(n_clusters), n, max_samples, hint=hint)


def _target_rows(target: Domain, max_samples: int, seed: int) -> np.ndarray:
    return scores.subsample_index(target.n_samples, max_samples, seed)


def source_discrepancy(
    source: Domain, target: Domain, *, max_samples: int = 500, seed: int = 0
) -> float:
    """Biased squared MMD between the raw features of the domains ``source`` (``X`` of
    shape ``(n_s, d)``) and ``target`` (``(n_t, d)``) on seeded subsamples of at most
    ``max_samples`` rows each, with the Gaussian kernel ``exp(-||x - y||^2 / m)``, ``m``
    the median squared distance of the pooled subsamples (the median heuristic, Gretton et
    al., JMLR 2012). At most 2; 0 for identical samples of at most ``max_samples`` rows.
    Larger domains are subsampled with the seeds ``seed`` and ``seed + 1``, so one domain
    against itself scores a little above 0, and the value is not symmetric in ``source``
    and ``target``.

    Examples
    --------
    >>> from dtc.data import Domain, make_digits_pair
    >>> target = make_digits_pair().target  # 899 rows
    >>> source_discrepancy(Domain(target.X[:500]), Domain(target.X[:500]))
    0.0
    >>> round(source_discrepancy(target, target), 4)  # two subsamples of 500
    0.0008
    """
    import torch

    from dtc.align.mmd import mmd2_biased

    for name, domain in (("source", source), ("target", target)):
        if not isinstance(domain, Domain):  # an array failed on .n_features, named nowhere
            raise ValueError(
                f"source_discrepancy: {name} must be a dtc.data.Domain (Domain(X)), got "
                f"{type(domain).__name__}"
            )
    if source.n_features != target.n_features:
        raise ValueError(
            f"source_discrepancy: source {source.name!r} has {source.n_features} features, the "
            f"target {target.n_features}; expected one feature space"
        )
    check_seed(seed, owner="source_discrepancy", reserve=1)  # the target's draw takes seed + 1
    xs = source.X[scores.subsample_index(source.n_samples, max_samples, seed)].astype(np.float64)
    xt = target.X[scores.subsample_index(target.n_samples, max_samples, seed + 1)].astype(
        np.float64
    )
    pooled = np.vstack([xs, xt])
    if len(pooled) > _MEDIAN_MAX_SAMPLES:
        # The median on evenly spaced pooled rows (both domains in proportion), as
        # dtc.align.kernels.median_sq_dist bounds its own: the dense pairs took ~20 bytes
        # each (2.7 GiB at 6,000 rows a domain). Below the cap (the defaults) all rows.
        pick = np.linspace(0, len(pooled) - 1, _MEDIAN_MAX_SAMPLES).round().astype(np.int64)
        pooled = pooled[pick]
    sq = (pooled**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None] - 2 * pooled @ pooled.T, 0)
    median = float(np.median(d2[np.triu_indices(len(pooled), 1)])) or 1.0
    with torch.no_grad():
        value = mmd2_biased(
            torch.from_numpy(xs), torch.from_numpy(xt), sigmas=[np.sqrt(median / 2)]
        )
    return float(value)


#: Points of source_discrepancy's median heuristic (above it, evenly spaced ones).
_MEDIAN_MAX_SAMPLES = 4096


def _default_fit_fn(seed: int) -> Callable:
    def fit(pair: DomainPair):
        from dtc.pipeline import DTC  # the pipeline imports dtc.monitor: import late

        return DTC(pretrain_epochs=10, adapt_epochs=10, seed=seed).fit(pair)

    return fit


def rank_sources(
    target: Domain,
    sources: Sequence[Domain] | Mapping[str, Domain],
    *,
    n_clusters: int | None = None,
    fit_fn: Callable[[DomainPair], object] | None = None,
    criterion="knn_agreement",
    discrepancy_weight: float = 1.0,
    temperature: float = 0.1,
    max_samples: int = 500,
    check_sources: bool = False,
    benchmark: str | None = None,
    seed: int = 0,
) -> list[dict]:
    """Rank candidate ``sources`` for ``target`` by predicted transferability.

    Parameters
    ----------
    target : Domain
        Its labels, if any, are removed before use.
    sources : sequence of Domain, or mapping name -> Domain
        In the target's feature space.
    n_clusters : int >= 2 or None
        Target clusters (None: the number of classes of the first labelled source).
    fit_fn : callable ``(pair) -> fitted estimator`` with ``labels_``, or None
        The short adaptation; default a DTC with 10 pretraining and 10 adaptation epochs.
    criterion : score name or callable ``(X_target, labels, estimator) -> float``
        The label-free score of the adapted target partition, on raw target features.
    discrepancy_weight : float >= 0
        ``transferability = score - discrepancy_weight * discrepancy``. The default
        criterion, the k-NN agreement (:func:`~dtc.monitor.scores.knn_agreement`),
        is at most 1, about 0 for a partition no better than chance (``-1 / (n - 1)`` on
        average) and negative below chance,
        without a lower bound (it falls below -1 only when one cluster holds more than half
        the rows): a partition better than chance scores in ``[0, 1]``. The squared MMD
        lies in ``[0, 2]``, so the default weight 1 counts both terms on about the same
        scale; rescale it for an unbounded criterion such as Calinski-Harabasz.
    temperature : float > 0
        Softness of the weights.
    max_samples, seed : subsample sizes / seed of the discrepancy and the score. Every
        discrepancy is computed on draws of ``min(max_samples, smallest source)`` rows
        from each source, and of as many target rows (the whole target when it is
        smaller): the biased MMD's bias grows as 1/n, so a smaller draw would look farther.
    check_sources : bool
        Run the source checks first (module docstring) on at most 1000 rows of each
        domain, with the monitor's default thresholds; correlations do not change under
        DTC's per-feature standardisation, so raw features give the monitor's verdict.
    benchmark : str or None
        The benchmark the domains come from: its feature family sets the source checks'
        similarity threshold (:func:`dtc.monitor.relatedness.resolve_min_similarity`), and
        the pairs ``fit_fn`` is given carry it (``pair.benchmark``). None: the one the
        target names in ``meta["benchmark"]``, if any, for every candidate alike.

    Returns
    -------
    list of dicts, best first, with ``name``, ``index`` (position in ``sources``),
    ``discrepancy`` (lower is closer), ``score`` (higher is better), ``transferability``
    (``score - discrepancy_weight * discrepancy``), ``rank`` (1 = best)
    and ``weight`` (softmax of ``transferability / temperature``; the weights sum to 1),
    ``check`` (the failed check, e.g. ``"unrelated_source"``; None when the source passes
    or was not checked), ``excluded`` (True: it failed, was not adapted, and has score
    and transferability ``nan``, weight 0 and a rank after every source of positive
    weight, before the collapsed ones of weight 0) and
    ``collapsed`` (True: with a score name as ``criterion``, the adaptation put every scored
    target row in one cluster, ``"collapsed_partition"``, the worst negative transfer, which
    no score is defined for: score and transferability ``nan``, weight 0, ranked last).
    When every adapted candidate collapsed, the adapted candidates share the weight equally
    (a warning); those the checks excluded keep weight 0.
    A ``max_samples`` that leaves fewer target rows than a score name needs is refused
    before anything is fitted.
    """
    items = _named(sources)
    if not items:
        raise ValueError("rank_sources: expected at least one candidate source, got none")
    if not isinstance(target, Domain):
        raise ValueError(f"rank_sources: target must be a dtc.data.Domain, got {type(target)!r}")
    # numpy scalars pass; bools, NaN and infinity do not
    temperature = check_number(temperature, "rank_sources: temperature", low=0.0, strict=True)
    discrepancy_weight = check_number(
        discrepancy_weight, "rank_sources: discrepancy_weight", low=0.0
    )
    # "no" was truthy: the checks ran; a list benchmark failed as an unhashable type
    check_sources = check_bool(check_sources, method="rank_sources", name="check_sources")
    if benchmark is not None and not isinstance(benchmark, str):
        raise ValueError(f"rank_sources: benchmark must be None or a str, got {benchmark!r}")
    target = target.without_labels()
    if benchmark is None:  # the target's, so that every candidate is judged on one scale
        benchmark = benchmark_of(target)
    _check_domains(items, "rank_sources")
    for name, src in items:
        if src.n_features != target.n_features:
            raise ValueError(
                f"rank_sources: source {name!r} has {src.n_features} features and the target "
                f"{target.n_features}; expected one feature space"
            )
    if n_clusters is None:
        # one k for every candidate, or their scores are not comparable: the first labelled
        # source's, so the labelled sources must hold the same classes (it depended on
        # their order, silently)
        # (labels and, for files, the class names they stand for: two files number their
        # own names 0..k-1; names may be held as an array, whose `or` numpy refuses)
        classes = {
            name: (tuple(np.unique(s.y).tolist()), _class_names(s))
            for name, s in items
            if s.has_labels
        }
        if len(set(classes.values())) > 1:
            shown = "; ".join(
                f"{name!r}: labels {list(labels)}"
                + ("" if names is None else f", classes {list(names)}")
                for name, (labels, names) in classes.items()
            )
            raise ValueError(
                "rank_sources: n_clusters is None and the labelled sources hold different "
                f"classes ({shown}); set n_clusters (the target's number of clusters) and give "
                "a fit_fn whose DTC does not name clusters by source classes (e.g. "
                "DTC(model_transfer=False, final_labels='cluster')): the default one names "
                "them, so a source of another number of classes fails"
            )
        n_clusters = next((s.n_classes for _, s in items if s.has_labels), None)
    if n_clusters is None:
        raise ValueError(
            "rank_sources: n_clusters is None and no source is labelled; set n_clusters"
        )
    # 2.5 was truncated to 2 for the fits, True read as 1; one cluster has no label-free
    # score, so every candidate was "collapsed" and weighed equally
    n_clusters = check_int(n_clusters, "rank_sources: n_clusters", minimum=2)
    # source_discrepancy takes seed + 1: checked before any candidate is adapted
    check_seed(seed, owner="rank_sources", reserve=1)
    if target.n_samples <= n_clusters:
        raise ValueError(
            f"rank_sources: the target has {target.n_samples} samples; scoring {n_clusters} "
            "clusters needs more"
        )
    crit = _criterion_fn(criterion, "rank_sources")
    _check_criterion_rows("rank_sources", criterion, n_clusters, target.n_samples, max_samples)
    fit_fn = _default_fit_fn(seed) if fit_fn is None else fit_fn
    rows = _target_rows(target, max_samples, seed)
    X = np.asarray(target.X[rows], dtype=np.float64)
    # Every discrepancy on draws of one size: the biased MMD's bias grows as 1/n, and a
    # source of 157 rows drawn whole looked farther than one of 500 from the same
    # distribution (SURF webcam: the order of the three sources reversed).
    m = min(src.n_samples for _, src in items)
    m = m if max_samples is None else min(m, int(max_samples))
    checks = [
        (check_domains(src, target, benchmark=benchmark, seed=seed) or {}).get("verdict")
        if check_sources
        else None
        for _, src in items
    ]
    if all(c is not None for c in checks):
        warn(
            f"rank_sources: every candidate failed the source checks ({checks}); ranking "
            "them all: transfer from any of them is likely to be negative",
        )
        excluded = [False] * len(items)
    else:
        excluded = [c is not None for c in checks]
    out = []
    for index, (name, src) in enumerate(items):
        score, collapsed = float("nan"), False
        if not excluded[index]:
            # the benchmark rides along: a monitor inside fit_fn reads its family's threshold
            pair = DomainPair(src, target, n_clusters=int(n_clusters), benchmark=benchmark)
            with _candidate("rank_sources", name):
                est = fit_fn(pair)
            labels = _target_labels("rank_sources", est, name, target.n_samples, rows)
            with _candidate("rank_sources", name):
                value = crit(X, labels, est, name)
            collapsed = value is None
            score = float("nan") if collapsed else value
        out.append(
            {
                "name": name,
                "index": index,
                "discrepancy": source_discrepancy(src, target, max_samples=m, seed=seed),
                "score": score,
                "check": checks[index],
                "excluded": excluded[index],
                "collapsed": collapsed,
            }
        )
    for r in out:
        r["transferability"], r["weight"] = float("nan"), 0.0
    kept = [r for r in out if not (r["excluded"] or r["collapsed"])]
    if kept:
        t = np.array([r["score"] - float(discrepancy_weight) * r["discrepancy"] for r in kept])
        w = np.exp((t - t.max()) / float(temperature))
        w /= w.sum()
        for r, ti, wi in zip(kept, t, w):
            r["transferability"], r["weight"] = float(ti), float(wi)
    else:
        # No candidate has a score to weigh it by: each adapted one collapsed the target.
        # The candidates the checks excluded keep weight 0: they failed before adaptation.
        adapted = [r for r in out if not r["excluded"]]
        warn(
            f"rank_sources: every adapted candidate collapsed the target partition into one "
            f"cluster ({COLLAPSED}); weighing the {len(adapted)} adapted candidates equally: "
            "transfer from any of them is likely to be negative",
        )
        for r in adapted:
            r["weight"] = 1.0 / len(adapted)
    # Weighted candidates first (when every adapted one collapsed, those: "best" must be one
    # that a weighted combination would use, not one the checks excluded and nothing
    # adapted), then scored ones, then those the checks excluded, then collapsed ones: a
    # collapsed partition is the worst outcome transfer can have.
    out.sort(
        key=lambda r: (
            not r["weight"] > 0,
            r["collapsed"],
            r["excluded"],
            -np.nan_to_num(r["transferability"]),
            -np.nan_to_num(r["score"]),
            r["index"],
        )
    )
    for rank, r in enumerate(out, 1):
        r["rank"] = rank
    return out


def check_domains(
    source: Domain,
    target: Domain,
    *,
    benchmark: str | None = None,
    max_samples: int = _CHECK_ROWS,
    seed: int = 0,
    **thresholds,
) -> dict | None:
    """:func:`dtc.monitor.relatedness.check_source` of ``source`` against ``target`` (of
    ``benchmark``, whose family sets the default similarity threshold) on seeded subsamples
    of at most ``max_samples`` rows each (the monitor's default size), with the monitor's
    default thresholds unless ``thresholds`` (``min_similarity``, ``min_signal_ratio``)
    are given; None where the checks do not apply (fewer features than they need).
    ``benchmark`` defaults to the one the target names (``meta["benchmark"]``)."""
    if benchmark is None:
        benchmark = benchmark_of(target)
    Xs = source.X[scores.subsample_index(source.n_samples, max_samples, seed)]
    Xt = target.X[scores.subsample_index(target.n_samples, max_samples, seed)]
    return check_source(Xs, Xt, benchmark=benchmark, seed=seed, **thresholds)


def _apportion(weights: np.ndarray, n: int) -> np.ndarray:
    """``n`` split in proportion to ``weights`` ``(m,)`` (summing to 1) into integer counts
    ``(m,)`` that add up to ``n``: the floors, then one more for the largest remainders
    (Hamilton's method; ties to the earlier weight)."""
    exact = weights * n
    counts = np.floor(exact).astype(int)
    extra = n - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:extra]] += 1
    return counts


def _same(a, b) -> bool:
    """Whether two meta values agree; class names may be arrays, whose ``==`` is
    element-wise (its truth value ambiguous)."""
    if isinstance(a, (list, tuple, np.ndarray)) or isinstance(b, (list, tuple, np.ndarray)):
        return isinstance(a, (list, tuple, np.ndarray)) and list(a) == list(b)
    return a == b


def _class_names(domain: Domain) -> tuple[str, ...] | None:
    """The class names a file's labels stand for (``meta["classes"]``, a list or an array),
    as plain strings; ``None`` where none are recorded."""
    names = domain.meta.get("classes")
    return None if names is None else tuple(str(name) for name in names)


def _named(sources) -> list[tuple[str, Domain]]:
    """``(name, domain)`` of each candidate source: a mapping's keys, else the domains'
    names, each prefixed with its position ``"i:"`` when two share one (every
    ``make_digits_pair().source`` is ``"source"``, ``Domain(X, y)`` is ``"domain"``: a check
    keyed by name kept the last of them, and a message could not say which one failed)."""
    if isinstance(sources, Mapping):
        return list(sources.items())
    domains = list(sources)
    names = [str(getattr(s, "name", i)) for i, s in enumerate(domains)]
    if len(set(names)) < len(names):
        names = [f"{i}:{name}" for i, name in enumerate(names)]
    return list(zip(names, domains))


def _check_domains(named: list[tuple[str, Domain]], owner: str) -> None:
    """``ValueError`` naming ``owner`` and the candidate unless every source of ``named``
    (:func:`_named`) is a :class:`Domain` (an array failed on ``.n_features``, named
    nowhere)."""
    for name, src in named:
        if not isinstance(src, Domain):
            raise ValueError(
                f"{owner}: source {name!r} must be a dtc.data.Domain, got {type(src).__name__}"
            )


def _check_combinable(named: list[tuple[str, Domain]], owner: str) -> None:
    """``ValueError`` unless the sources of ``named`` (:func:`_named`) share the feature
    dimension and are all labelled, in one label space, or all unlabelled: what
    :func:`combine_sources` can mix."""
    _check_domains(named, owner)
    sources = [s for _, s in named]
    if len({s.n_features for s in sources}) != 1:
        raise ValueError(f"{owner}: the sources must share one feature dimension")
    labelled = {s.has_labels for s in sources}
    if len(labelled) != 1:
        raise ValueError(f"{owner}: the sources must be all labelled or all unlabelled")
    if labelled == {True}:
        # one label space: the same label values, and the same class names where recorded
        spaces = [(n, np.unique(s.y).tolist(), _class_names(s)) for n, s in named]
        names = {tuple(c) for _, _, c in spaces if c is not None}
        if len({tuple(y) for _, y, _ in spaces}) > 1 or len(names) > 1:
            detail = "; ".join(
                f"{n!r}: labels {y}" + ("" if c is None else f", classes {list(c)}")
                for n, y, c in spaces
            )
            raise ValueError(
                f"{owner}: the sources must share one label space (the same classes), got {detail}"
            )


def combine_sources(
    sources: Sequence[Domain] | Mapping[str, Domain],
    weights,
    *,
    n_samples: int | None = None,
    seed: int = 0,
) -> Domain:
    """One source domain sampled from ``sources`` (a mapping: named by its keys, in its
    order) in proportion to ``weights``.

    Source ``i`` contributes ``weights[i] * n_samples`` rows (``n_samples`` default: the
    largest size of the sources of positive weight), rounded so that the counts add up to ``n_samples`` (largest
    remainders first); its rows are drawn without replacement while it has enough -- every
    row once when it gives more than it has -- and with replacement beyond. Rows drawn
    without replacement keep the source's order, so all the weight on one source of
    ``n_samples`` rows gives that source's rows as they are. The sources
    must share the feature dimension and be all labelled (in one label space) or all
    unlabelled.
    """
    named = _named(sources if isinstance(sources, Mapping) else list(sources))
    sources = [s for _, s in named]
    # named: a dict of weights (keyed as the sources) failed in numpy's words, and the
    # strings "0.7", "0.3" were taken as numbers
    w = float_array(weights, "combine_sources", "weights (one number per source, in order)")
    if not sources or w.shape != (len(sources),):
        raise ValueError(
            f"combine_sources: expected one weight per source ({len(sources)}), got shape {w.shape}"
        )
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("combine_sources: weights must be finite, non-negative and not all zero")
    _check_combinable(named, "combine_sources")
    # 2.5 rows is no count: it was truncated to 2
    # the sources that give rows: a weight-0 candidate (a rejected source of
    # select_source) set the size, and the others' rows were drawn again to fill it
    given = [s for s, wi in zip(sources, w) if wi > 0]
    n = (
        max(s.n_samples for s in given)
        if n_samples is None
        else check_int(n_samples, "combine_sources: n_samples")
    )
    w = w / w.sum()
    # seed=None drew other rows at every call, a negative one failed in numpy, unnamed
    rng = np.random.default_rng(check_seed(seed, owner="combine_sources"))
    parts_X, parts_y = [], []
    for src, m in zip(sources, _apportion(w, n)):
        if m == 0:
            continue
        # in the source's own order: a full draw of one source (all the weight on it) is the
        # source itself, as strategy="best" gives it (shuffled, DTC's batches differed and
        # 36 of 899 digits labels with them)
        idx = np.sort(rng.choice(src.n_samples, size=min(m, src.n_samples), replace=False))
        if m > src.n_samples:
            idx = np.concatenate([idx, rng.integers(0, src.n_samples, size=m - src.n_samples)])
        parts_X.append(src.X[idx])
        if src.has_labels:
            parts_y.append(src.y[idx])
    shapes = {s.image_shape for s in given}
    names = "+".join(f"{n}:{wi:.2f}" for (n, _), wi in zip(named, w) if wi > 0)
    return Domain(
        np.vstack(parts_X),
        np.concatenate(parts_y) if parts_y else None,
        name=f"combined({names})",
        image_shape=shapes.pop() if len(shapes) == 1 else None,
        meta={"combined_from": [n for n, _ in named], "weights": w.tolist()}
        # what the sources agree on, so that a pair with the target still checks it (class
        # names that another numbering of the target's would contradict)
        | {
            key: sources[0].meta[key]
            for key in ("classes", "benchmark")
            if all(key in s.meta and _same(s.meta[key], sources[0].meta[key]) for s in sources)
        },
    )


def select_source(
    target: Domain,
    sources: Sequence[Domain] | Mapping[str, Domain],
    *,
    strategy: str = "best",
    n_samples: int | None = None,
    **rank_kwargs,
) -> tuple[Domain, list[dict]]:
    """The source to transfer from: the best-ranked one (``strategy="best"``) or a
    combination weighted by :func:`rank_sources` (``"weighted"``; its rows drawn by
    :func:`combine_sources` with the ``seed`` given for the ranking). Returns
    ``(source, ranking)``; build ``DomainPair(source, target)`` and fit any method."""
    if strategy not in ("best", "weighted"):
        raise ValueError(f"select_source: strategy must be 'best' or 'weighted', got {strategy!r}")
    if n_samples is not None:
        if strategy == "best":  # it was ignored without a word
            raise ValueError("select_source: n_samples sizes a weighted combination only")
        # before every candidate is adapted, not after
        check_int(n_samples, "select_source: n_samples")
    # once: a generator of sources was emptied here, and rank_sources then given none
    named = _named(sources)
    domains = [s for _, s in named]
    if strategy == "weighted" and domains:
        # before rank_sources adapts to every candidate, not after
        _check_combinable(named, "select_source(strategy='weighted')")
    ranking = rank_sources(target, dict(named), **rank_kwargs)
    if strategy == "best":
        return domains[ranking[0]["index"]], ranking
    weights = np.zeros(len(domains))
    for r in ranking:
        weights[r["index"]] = r["weight"]
    seed = rank_kwargs.get("seed", 0)
    # by the names the ranking gives them (a mapping's keys)
    return combine_sources(dict(named), weights, n_samples=n_samples, seed=seed), ranking


@dataclass
class ModelSelection:
    """Result of :func:`select_model`: ``best`` (the chosen name), ``scores`` (name ->
    label-free score, higher is better; None for a collapsed partition), ``estimators``
    (name -> fitted estimator), ``collapsed`` (the names whose target partition put every
    scored row in one cluster, ``"collapsed_partition"``: ranked below every other)."""

    best: str
    scores: dict[str, float | None]
    estimators: dict[str, object] = field(repr=False)
    collapsed: list[str] = field(default_factory=list)

    @property
    def best_estimator(self):
        """The fitted estimator of the chosen candidate, ``estimators[best]``."""
        return self.estimators[self.best]


def select_model(
    candidates: Mapping[str, object] | Sequence[object],
    pair: DomainPair,
    *,
    criterion="knn_agreement",
    max_samples: int = 1000,
    seed: int = 0,
) -> ModelSelection:
    """Fit every candidate estimator on ``pair`` (target labels removed; fitted in place)
    and choose the best by ``criterion``, a label-free score name of
    :mod:`dtc.monitor.scores` or a callable ``(X_target, labels, estimator) -> float``
    (higher is better), evaluated on the raw target features (a seeded subsample of at
    most ``max_samples`` rows). Ties go to the earlier candidate.

    To choose the number of clusters, use a criterion that weighs separation, such as
    ``"silhouette"``: with the default k-NN agreement, merging two clusters never lowers the
    fraction of agreeing neighbour pairs, and the score leans to the candidate with the fewest
    clusters (``scripts/model_selection.py``); information maximisation (of soft
    assignments) is nearly flat in k and does not find it either (on well-separated blobs
    it can choose more clusters than there are).

    With a score name as ``criterion``, a candidate whose partition puts every scored row in
    one cluster (collapsed) has no score: its score is None, it is listed in ``collapsed``
    and chosen only when every candidate collapsed (the first, with a warning). A
    ``max_samples`` (or target) that leaves fewer rows than the score needs for a
    candidate's ``n_clusters`` (else ``pair.n_clusters``) is refused before any fit."""
    items = (
        list(candidates.items())
        if isinstance(candidates, Mapping)
        else [(f"{i}:{type(c).__name__}", c) for i, c in enumerate(candidates)]
    )
    if not items:
        raise ValueError("select_model: expected at least one candidate, got none")
    if not isinstance(pair, DomainPair):
        raise ValueError(f"select_model: pair must be a dtc.data.DomainPair, got {type(pair)!r}")
    for name, est in items:
        if not hasattr(est, "fit"):
            raise ValueError(f"select_model: candidate {name!r} has no fit method: {est!r}")
    crit = _criterion_fn(criterion, "select_model")
    for name, est in items:
        k = getattr(est, "n_clusters", None) or pair.n_clusters
        hint = f" (candidate {name!r})"
        _check_criterion_rows(
            "select_model", criterion, k, pair.target.n_samples, max_samples, hint
        )
    pair = pair.mask_target_labels()  # model selection never sees target labels
    rows = _target_rows(pair.target, max_samples, seed)
    X = np.asarray(pair.target.X[rows], dtype=np.float64)
    values: dict[str, float | None] = {}
    fitted: dict[str, object] = {}
    for name, est in items:
        with _candidate("select_model", name):
            # fitted in place, as its labels_ are read: fit's return value is no estimator
            # for a candidate whose fit returns None (or its labels)
            est.fit(pair)
        fitted[name] = est
        labels = _target_labels("select_model", est, name, pair.target.n_samples, rows)
        with _candidate("select_model", name):
            values[name] = crit(X, labels, est, name)
    collapsed = [name for name, v in values.items() if v is None]
    if len(collapsed) == len(values):
        warn(
            f"select_model: every candidate collapsed the target partition into one cluster "
            f"({COLLAPSED}); choosing the first",
        )
    order = list(values)
    best = max(
        values,
        key=lambda name: (values[name] is not None, values[name] or 0.0, -order.index(name)),
    )
    return ModelSelection(best=best, scores=values, estimators=fitted, collapsed=collapsed)
