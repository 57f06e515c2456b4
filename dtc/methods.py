"""The method contract shared by DTC and every baseline, and the registry of methods.

A method is a scikit-learn style estimator: parameters are set in ``__init__``
(stored verbatim, so ``sklearn.base.clone`` works) and validated in ``fit``;
``fit(pair)`` returns ``self`` and leaves fitted attributes ending in ``_``:

``labels_``     ``(n_target,)`` int cluster index of every target sample;
``embedding_``  ``(n_target, k)`` target representation, where the method has one;
``history_``    list of per-epoch dicts, where the method trains;
``cluster_classes_`` ``(n_clusters,)`` int, only when the clusters are *named by source
                classes* (e.g. K-means initialised at source class means): cluster ``c``
                stands for source class ``cluster_classes_[c]``. Evaluation then also
                reports accuracy without Hungarian matching (``acc_unmatched``).

Subclasses implement :meth:`TransferClusterer._fit`. The public :meth:`TransferClusterer.fit`
validates the pair against the method's declared needs and **removes the target
labels before the subclass sees them**: target labels are for evaluation only,
and this guarantee holds whoever calls ``fit``. ``fit`` takes one ``DomainPair``, not
arrays, so scikit-learn's model selection (``GridSearchCV``, ``cross_val_score``), which
splits ``X``, does not apply; choose parameters without target labels with
:func:`dtc.monitor.selection.select_model`.

Methods are found by name with :func:`get`. Built-in and third-party methods
register through the entry-point group ``dtc.methods`` (``name =
"package.module:Class"`` in ``pyproject.toml``); :func:`register` adds one at run
time, and a ``"package.module:Class"`` string is accepted anywhere a name is.

Examples
--------
Target-only K-means on the embedded default (the figure the README's tables start from):

>>> from dtc import methods
>>> from dtc.data import make_digits_pair
>>> from dtc.metrics import cluster_acc
>>> pair = make_digits_pair()
>>> model = methods.get("kmeans", seed=0).fit(pair)
>>> model.labels_.shape
(899,)
>>> round(cluster_acc(pair.target.y, model.labels_), 3)
0.709
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from dtc._plugins import PluginRegistry
from dtc._torch_state import training_defaults
from dtc._validation import forget_fit, host_array
from dtc.data.domain import DomainPair

__all__ = [
    "ENTRY_POINT_GROUP",
    "TransferClusterer",
    "available",
    "get",
    "get_class",
    "register",
]

#: The entry-point group methods are registered under (``pyproject.toml``:
#: ``[project.entry-points."dtc.methods"]``).
ENTRY_POINT_GROUP = "dtc.methods"


class TransferClusterer(ClusterMixin, BaseEstimator):
    """Base class of every method: cluster ``pair.target``, optionally using ``pair.source``.

    Class attributes a subclass sets to declare its needs:

    ``requires_source_labels``  the method needs ``pair.source.y`` (e.g. class-mean transfer);
    ``accepts_heterogeneous``   the method handles a source and a target of different ``d``;
    ``uses_source``             ``False`` for target-only baselines (for reports);
    ``requires_non_negative``   the features are weights of a graph or counts (co-clustering):
                                ``fit`` refuses negative features, advising a benchmark's
                                stored ones (``preprocess='raw'``, as the paper configs
                                and ``scripts/run_baselines.py`` give them).
    """

    requires_source_labels: bool = False
    accepts_heterogeneous: bool = False
    uses_source: bool = True
    requires_non_negative: bool = False

    # -- the contract -------------------------------------------------------
    def fit(self, pair: DomainPair, y=None):
        """Fit on ``pair`` and return ``self``.

        ``pair.target.y`` is removed before the method sees the pair. ``y`` exists
        only for scikit-learn signature compatibility and must be ``None``.
        """
        # A re-fit starts clean: a fitted attribute set only in some settings (e.g.
        # ``cluster_classes_`` with a labelled source) must not survive from the last fit,
        # nor may the last fit's labels_ survive a pair, a y or parameters refused below.
        self._forget_fit()
        name = type(self).__name__
        if not isinstance(pair, DomainPair):
            # first: fit(Xs, Xt), scikit-learn's habit, was told it had passed target labels
            raise ValueError(
                f"{name}.fit: expected one dtc.data.DomainPair, got {type(pair).__name__}; "
                "build it as DomainPair(Domain(Xs, ys), Domain(Xt)) (source labels, if any, "
                "in the source Domain)"
            )
        if y is not None:
            raise ValueError(
                f"{name}.fit: y must be None; target labels are never used for fitting (pass "
                "them to dtc.metrics for evaluation), and source labels go in pair.source"
            )
        # Masked first: a subclass's _validate_pair is the method's code too, and it saw
        # the target's labels.
        pair = pair.mask_target_labels()
        try:
            pair = self._validate_pair(pair)
            given = self._params()
            with training_defaults():
                self._fit(pair)
            self._check_fitted(pair, given)
        except BaseException:
            # A failed fit is no fit: what it set before failing (a history, the target's
            # statistics) would make the estimator look fitted to check_is_fitted.
            self._forget_fit()
            raise
        return self

    def _check_fitted(self, pair: DomainPair, given: dict) -> None:
        """What ``_fit`` left, against the contract (a method of a user's is checked here,
        not later in the metrics, by words naming neither it nor the attribute):
        ``labels_`` ``(n_target,)`` integers, ``history_`` a list of per-epoch dicts, and
        the parameters as ``given`` (scikit-learn's contract: a parameter ``_fit`` set
        described the fit wrongly in its record, and made every resume of its run stale)."""
        name = type(self).__name__
        if not hasattr(self, "labels_"):
            raise ValueError(
                f"{name}._fit set no labels_: a method's _fit must set self.labels_, the "
                "target's cluster labels, shape (n_target,) ints"
            )
        # a tensor (a head's argmax, on a GPU or requiring grad) as the metrics take it
        labels = np.asarray(host_array(self.labels_, f"{name}.labels_"))
        n = pair.target.n_samples
        if labels.shape != (n,):
            raise ValueError(
                f"{name}._fit: labels_ must be integer cluster labels of shape ({n},) (the "
                f"target's rows), got shape {labels.shape}"
            )
        if labels.dtype.kind == "f":  # integer-valued floats are labels, as the metrics say
            bad = ~np.isfinite(labels) | (np.nan_to_num(labels) % 1 != 0)
        else:
            bad = np.zeros(n, dtype=bool) if labels.dtype.kind in "iub" else None
        if bad is None or bad.any():
            where = "" if bad is None else f", first at row {int(np.argmax(bad))}"
            raise ValueError(
                f"{name}._fit: labels_ must be integer cluster labels, got non-integer or "
                f"non-finite values (dtype {labels.dtype}{where})"
            )
        history = getattr(self, "history_", None)
        if history is not None:
            if not isinstance(history, (list, tuple)):
                raise ValueError(
                    f"{name}._fit: history_ must be a list of per-epoch dicts, got "
                    f"{type(history).__name__}"
                )
            for i, h in enumerate(history):
                if not isinstance(h, Mapping):
                    raise ValueError(
                        f"{name}._fit: history_ must be a list of per-epoch dicts, but entry "
                        f"{i} is a {type(h).__name__}"
                    )
        now = self._params()
        changed = [k for k, v in given.items() if now.get(k) is not v]
        if changed:
            k = changed[0]
            raise ValueError(
                f"{name}._fit changed its parameter {k!r} ({given[k]!r} -> {now.get(k)!r}): "
                "parameters stay as set (scikit-learn's contract; a record describes them); "
                "keep what the fit derives in an attribute ending in '_'"
            )

    def _params(self) -> dict:
        """``get_params(deep=False)``; scikit-learn's bare errors on an ``__init__`` that
        breaks its contract (a parameter stored under another name, ``*args``) named
        neither the method nor the rule."""
        try:
            return self.get_params(deep=False)
        except (AttributeError, RuntimeError) as exc:
            raise ValueError(
                f"{type(self).__name__}: every __init__ parameter must be stored as an "
                f"attribute of the same name, with no *args (scikit-learn's estimator "
                f"contract, which clone and the run records rely on): {exc}"
            ) from exc

    def _forget_fit(self) -> None:
        forget_fit(self)

    def fit_predict(self, pair: DomainPair, y=None) -> np.ndarray:
        """Fit on ``pair`` and return ``labels_`` of shape ``(n_target,)``."""
        return self.fit(pair, y).labels_

    def benchmark_defaults(self, benchmark: str | None, params: dict) -> dict:
        """Parameters this method documents as its default on ``benchmark``'s family, for a
        run with its own ``params`` (which override them).

        The runners (``dtc run``, experiment configs) apply them before a run's params; a
        method constructed directly keeps its ``__init__`` defaults. None unless a
        subclass documents some (``dtc.DTC``: ``dtc.pipeline.FAMILY_CONFIGS``).
        """
        return {}

    def check_params(self) -> None:
        """Check the parameters' values that need no data (types, ranges, choices);
        ``ValueError`` naming the first wrong one. Cheap: nothing is built or fitted.

        Experiment configs call it on each run's configured method when they load, so a
        wrong value is one error up front rather than one failed run each. ``dtc.DTC`` and
        every registered baseline implement it, and their ``fit`` runs the same checks
        (with the same messages) before the ones that need the data (``n_neighbors``
        below the sample count, non-negative features, ...). The default checks nothing:
        a method without it checks its values when it is fitted.
        """

    def _check_n_clusters(self) -> None:
        """The ``n_clusters`` parameter, where set (``None`` takes the pair's): a positive
        int. The data-free part of :meth:`_n_clusters`."""
        k = getattr(self, "n_clusters", None)
        if k is not None:
            self._check_k(k)

    def _check_k(self, k) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"{type(self).__name__}: n_clusters must be a positive int, got {k!r}")

    def _fit(self, pair: DomainPair) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- helpers for subclasses ---------------------------------------------
    def _validate_pair(self, pair: DomainPair) -> DomainPair:
        name = type(self).__name__
        if pair.heterogeneous and not self.accepts_heterogeneous:
            d_s, d_t = pair.source.n_features, pair.target.n_features
            # equal d: declared so (heterogeneous=True), which read like a faulty check
            why = "" if d_s != d_t else ", declared with heterogeneous=True"
            raise ValueError(
                f"{name}: the pair is heterogeneous (source d={d_s}, target d={d_t}{why}) and "
                "this method needs one shared feature space"
            )
        if self.requires_source_labels and pair.source.y is None:
            raise ValueError(f"{name}: this method needs a labelled source (pair.source.y is None)")
        if self.requires_non_negative:
            for role, domain in (("source", pair.source), ("target", pair.target)):
                lowest = float(domain.X.min())
                if lowest < 0:
                    raise ValueError(
                        f"{name}: requires non-negative features (requires_non_negative), but "
                        f"the {role} has a minimum of {lowest:.4g}; give a benchmark's stored "
                        "features (preprocess='raw', `--data preprocess=raw` or `data: "
                        "{preprocess: raw}` in a config), or shift / min-max scale them"
                    )
        return pair

    def _n_clusters(self, pair: DomainPair) -> int:
        """The number of clusters: the parameter ``n_clusters`` if set, else the pair's.

        Raises ``ValueError`` when neither is given or when the target has fewer
        samples than clusters.
        """
        k = getattr(self, "n_clusters", None)
        if k is None:
            k = pair.n_clusters
        if k is None:
            raise ValueError(
                f"{type(self).__name__}: n_clusters is None and the pair carries no n_clusters; "
                "set one of them"
            )
        self._check_k(k)
        n = pair.target.n_samples
        if n < 2:
            # one row is no clustering problem: GMM, agglomerative clustering and DTC's
            # spectral clusterer failed in scikit-learn's words, or named an internal X
            raise ValueError(
                f"{type(self).__name__}: the target has {n} sample(s); expected at least 2"
            )
        if n < k:
            raise ValueError(
                f"{type(self).__name__}: n_clusters={k} but the target has only {n} samples; "
                "expected at least as many samples as clusters"
            )
        return int(k)


# -- registry ---------------------------------------------------------------
_METHODS = PluginRegistry(
    ENTRY_POINT_GROUP,
    TransferClusterer,
    "method",
    # a name dtc.methods.register gave in a script is unknown to the dtc command
    hint="; a method of your own: 'package.module:Class', or a name of the entry-point group "
    "dtc.methods (one given by dtc.methods.register is known in its own process only)",
)
register = _METHODS.register
available = _METHODS.available
get_class = _METHODS.get_class
get = _METHODS.get
