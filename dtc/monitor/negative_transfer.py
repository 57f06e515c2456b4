"""Negative-transfer monitor: a DTC callback that compares the transfer model with a
no-transfer reference, without target labels, and flags, damps or rolls back.

Transfer is *negative* (Rosenstein, Marx, Kaelbling & Dietterich, NIPS workshop 2005;
Wang, Dai, Poczos & Carbonell, CVPR 2019) when the source makes the target clustering
worse than the target alone would give. Without target labels the monitor compares
label-free scores (:mod:`dtc.monitor.scores`) of two partitions of the target:

* the **transfer** partition: K-means on the current target embedding (during
  adaptation) or the estimator's final ``labels_`` (at the end of the fit);
* the **reference** partition: :class:`dtc.monitor.reference.NoTransferReference`, a
  target-only autoencoder of the same architecture and budget + K-means.

**Comparable scores.** The two partitions come from different embedding spaces, and a
score computed in each partition's own space mixes the quality of the partition with
the geometry of the space (an embedding collapsed by alignment can have a high
silhouette and a meaningless partition). So both partitions are scored on the *same*
feature matrices (``space``):

``"raw"``    (default) the target's input features (as the estimator's networks see
             them: the ``pair`` of ``on_fit_begin``, after DTC's per-domain z-scoring),
             a space neither model shaped, so neither partition has a home advantage;
``"joint"``  the mean of the score on the raw target features, on the reference
             embedding and on the current transfer embedding (each partition scored in
             its rival's space as well as its own).

Measured on the digits default (DTC, 20 + 20 epochs, seed 0), ``"joint"`` flagged the
positive pair (DTC 61% ACC, reference 49%): the reference partition's advantage in its
own embedding outweighed the transfer partition's in its own; ``"raw"`` ranked the two
like their ACCs on the digits cases of ``scripts/negative_transfer.py``.

The default score, :func:`dtc.monitor.scores.knn_agreement` (does each target point's
neighbourhood in that space lie in its cluster?), and the other label scores of
:mod:`dtc.monitor.scores` are scale-free (neighbour ranks; silhouette, Calinski-Harabasz and
Davies-Bouldin are ratios of distances), so scores of one partition in several spaces can be
averaged.
Soft-assignment scores use Student-t assignments (DEC's kernel, Xie et al., ICML 2016) of
each row to the partition's centroids, in each space standardised to unit mean squared
distance to its mean.

**Calibrated margin** (``calibrate=True``). A geometric score in the target's features
favours partitions shaped by that geometry -- the reference's -- over partitions shaped
by source classes, even correct ones: on Office-Caltech10 SURF C->A and W->D, DTC's
partitions are more accurate than the reference's (58.5 vs 45.7 %, 82.2 vs 45.9 %
Hungarian ACC) yet have a lower k-NN agreement (by 0.112 and 0.040). Transfer is declared
negative only when its score is below the reference's by more than
``tolerance + 2 * restart_spread + max(0, source_bias)``:

* ``restart_spread``: the standard deviation of the score over single-start K-means
  partitions of the reference embedding -- differences of that size separate equally
  good target-only partitions (in ``"joint"`` space scored on the raw features and the
  reference embedding: no transfer embedding exists yet);
* ``source_bias`` (:func:`~dtc.monitor.calibration.source_bias`): on the *source*, where
  the classes are known, the mean score of ``n_restarts`` K-means partitions minus the score
  of the partition a classifier learns from the source labels (cross-validated logistic
  regression), both in the source's features -- the handicap the score gives a class
  partition on data of this kind (large for bag-of-words SURF histograms, about zero or
  negative for digit images). Only with a labelled source and an estimator that uses its
  labels, on a pair of one feature space (a heterogeneous pair's source is data of another
  kind: its bias said nothing of the target's, and SURF's switched a digits target's score
  off through the resolution below), and 0 when the source's features do not predict its labels better than chance
  (one-sided binomial test, p < 0.01): such labels carry nothing to transfer. The mean over
  restarts, not one K-means fit, because one fit's value moved with its initialisation (rule
  #11 of ``experiments/preregistration.md``).

**Feature correspondence** (``check_features=True``). A source whose features are not
the target's -- permuted, another descriptor, another benchmark cut to the same width --
has nothing to transfer through a shared encoder, yet DTC's target-side training
(self-training, clustering) can still leave a partition that scores well: on the harness's
MNIST->USPS pair with permuted source pixels, unguarded DTC (plain z-scoring) had 60.1 % ACC
against the reference's 54.0 %, a gain the source did not bring. Before training, the
monitor tests whether the two domains' feature-correlation matrices agree beyond chance
(:func:`dtc.monitor.relatedness.feature_correspondence`, 99 permutations); when they do
not (p > 0.01), transfer is negative whatever the score says. The test needs the same
features on both sides (it is not run on a heterogeneous pair) and at least 16 features
that vary (with fewer, a permutation test of the correlation entries has too little power
to tell a related source from an unrelated one, and it is not run: ``correspondence_`` is
None).

**Structural similarity** (``min_similarity="family"``). A source can correspond to the
target and still be the wrong one: its classes disjoint from the target's, or a target
shifted too far for it. Both change which features co-vary, so a source that passes the
test is also negative when its correlation structure is less alike the target's than a
threshold (:func:`dtc.monitor.relatedness.structural_similarity`: the test's statistic
corrected for the sampling noise of both correlation matrices; reason
``"dissimilar_source"``). The threshold depends on what the features are, because pixel
intensities co-vary with their neighbours whatever the class: two corpora of the same
digits measured 0.41 (8x8 MNIST against scikit-learn's digits, where DTC gained 5 and 12
points), SURF W->A with disjoint classes 0.42, so no single threshold separates true
pairs from wrong ones (rule #10 of ``experiments/preregistration.md``). By default the
pair's benchmark family sets it (:data:`dtc.monitor.relatedness.FAMILY_MIN_SIMILARITY`:
0.40 for the pixel intensities of the digit corpora, 0.50 for SURF bag-of-words; rule #13
chose this over one threshold or none on fresh parity-split cases: 71 % of the wrong sources
flagged, 9.3 % of the true pairs; 0.75 for COIL20, one corpus whose true pairs measure 0.79
and up, rule #19), and data of no known family is not judged: pass a number to judge it.
The similarity is reported in ``correspondence_``, with the threshold that applied, for a
source that passes the correspondence test with at least 6 rows in each domain, unless
neither ``min_similarity`` nor ``min_signal_ratio`` is set (then it is not computed). It
misses some wrong sources: SURF sources from amazon or caltech10 with crossed classes
measured 0.51 to 0.66.

**A noisy source** (``min_signal_ratio=0.1``). Feature noise shows in the source's
reliability: a source whose correlation structure carries less than
``min_signal_ratio`` of the target's signal per row (``signal_source / signal_target``
of :func:`~dtc.monitor.relatedness.structural_similarity`, comparable across sample
sizes) is negative, reason ``"noisy_source"``. On the development cases the ten true
sources (SURF's 157-row DSLR and two corpora of digits included) measured 0.35 to 2.8
and the sources corrupted by noise of twice their spread 0.007 to 0.060, on COIL, SURF
and three digit corpora; 0.1 is near their geometric midpoint (rules #9 and #10). Label
noise alone is not seen. A corrupted source can still help -- COIL2->COIL1 corrupted
gained 9 points -- so this flag can cost a gain; it says the source is not the clean one
transfer assumes.

**Class agreement** (``min_class_agreement``). A source can share the target's features and
much of its correlation structure and still hold other classes (the other half of a
benchmark's classes): the structural similarity then overlaps with that of true pairs
(rule #16's outcome). With source labels that the estimator uses, the monitor measures
before training how far a source classifier's names of the target rows follow the target's
own K-means clusters (:func:`dtc.monitor.class_agreement.class_agreement`, adjusted mutual
information; ``class_agreement_``). On the seen cases
(``scripts/class_agreement_choice.py --ranges``) it was 0.07 to 0.45 for SURF sources with
the target's classes and 0.02 to 0.27 with other classes; 0.15 to 0.76 and 0.09 to 0.42 on
pixels (COIL aside). A source below ``min_class_agreement`` is negative, reason
``"unmatched_classes"``; None only reports the agreement. The default, 0.15, comes from
rule #20 of ``experiments/preregistration.md``: on fresh set 11 (128 runs none of the rules
had seen) it flagged one more source with the other half of the classes (negatives 86 -> 88 %)
at the same false alarms (10 %), gain kept (93 %) and worst case (-9.3). It had been rejected
twice before on other criteria: by rule #17 on fresh set 5, where the SURF sources it flagged
had brought as much gain as they cost, and by rule #18 on fresh set 6, where 13 true SURF
pairs cut to half their classes measured below it (false alarms 21 -> 45 %). The check
assumes the target's K-means finds its classes; a target whose strongest clusters are not
its classes fails it whatever the source.

**Resolution** (``max_resolution=10``). A margin is only as useful as the accuracy it stands
for. :func:`~dtc.monitor.calibration.score_slope` measures, on the labelled source (its
scored rows, in its features), how much the score falls per ACC point lost when rows of the
class partition are moved to random classes; ``resolution = margin / slope`` is then the ACC
a partition must lose before the score can flag it -- a lower bound, as random errors are
the ones the score sees best. Where it exceeds ``max_resolution`` points, a verdict of the
score would be read off noise of the size of the gains transfer brings, and only the source
checks can flag (the score's verdict is still recorded, ``score_below`` in the trail;
``score_counts_`` says whether it counted). Measured on the targets of the harness and of
rule #13's fresh set (``scripts/monitor_resolution.py``, target labels as an evaluation):
0.8 to 5.1 ACC points on the pixel benchmarks, 13.8 to 85.9 on Office-Caltech10 SURF, where
all of the score's flags on the seen runs were false alarms on sources that had gained 4 to
20 points or negatives that had lost under 3 (rule #14 of
``experiments/preregistration.md``). Without source labels or ``calibrate`` there is no
resolution and the score always counts.

**Metric** (``metric``). Neighbours in z-scored bag-of-words histograms are poor: on the
labelled SURF *sources* (1000-row subsamples, ``scripts/score_geometry.py``) the true
classes' k-NN agreement is 0.06 to 0.18 with Euclidean distances and 0.29 to 0.62 with
cosine distances (rows scaled to unit length), and the score falls 2.5 to 6 times faster
per ACC point of random relabelling; on the pixel benchmarks both give 0.68 to 0.90.
``"cosine"`` scores every partition, restart and source partition in that geometry. It is
not the default: on fresh set 4 (rule #16, 112 runs) it counted on more SURF runs and lost
more gains there than it saved (mean guarded - target-only +4.89 against the Euclidean
score's +5.40 ACC points).

Every score uses a fixed, seeded subsample of at most ``max_samples`` target rows, the
same at every check. ``on_fit_begin`` refuses, before the reference is trained, a target
or a ``max_samples`` that leaves fewer rows than the score needs: more than the clusters,
and for ``knn_agreement`` more than its ``KNN_NEIGHBORS`` = 10 neighbours; and so a labelled
source whose scored rows (as many, its classes as the clusters) calibrate the margin. A
soft-assignment score needs no probabilities from the estimator: the monitor builds them
(Student-t assignments, above) for every partition it scores.

**Policies** (``policy``; every policy records its decisions and flags negative transfer
in ``estimator.negative_transfer_``; none raises a Python warning, which a sweep's many
fits would repeat):

``"warn"``      record the decision trail; set ``estimator.negative_transfer_``;
``"adapt"``     dynamic transfer strength: when the score falls between two checks (by
                more than ``min_delta``) while
                the source-target discrepancy (``logs["discrepancy"]``, DTC's MMD on a
                fixed subsample) falls too, alignment is being bought with cluster
                structure, so ``estimator.transfer_scale_`` is multiplied by
                ``adapt_factor``;
``"rollback"``  keep the best adaptation state by the score (the pretrained start
                included; of states with equal scores the earliest, the least adapted)
                and restore it after the last epoch when its score beats the
                last check's by more than ``min_restore_gain`` (default 0; ``"spread"``:
                ``tolerance + 2 * restart_spread``); if the final partition
                is negative (``negative_transfer_``: its score below the reference's by
                more than the margin, where the score counts, or a failed source
                check), the estimator's ``labels_``,
                ``embedding_`` and ``cluster_centers_`` become the reference's (and
                ``cluster_classes_`` is removed: the clusters are no longer named by
                source classes). The networks are not replaced: after such a fallback
                ``autoencoder_`` and ``transform_target`` are still the transfer
                model's, and ``transform_target`` of the target no longer gives
                ``embedding_`` (``reference_`` holds the reference's);
``"adapt+rollback"`` both; a checkpoint keeps the ``transfer_scale_`` it was taken
                with, and a restore brings it back with the networks (a damping after
                the checkpoint answered epochs that the restore undoes).

Results on the estimator: ``negative_transfer_`` (bool: the final transfer partition
scores below the reference by more than the margin, or the source failed a check before
training: unrelated, noisy, dissimilar or of unmatched classes), ``monitor_trail_`` (the
decision trail: dicts with ``epoch``, ``score``, ``reference``, ``discrepancy``,
``transfer_scale``, ``negative``, ``score_below`` (the score's own verdict, counted or not),
``decision``: at adaptation checks ``"ok"``, ``"below_reference"``, ``"collapsed_partition"``,
``"unrelated_source"``, ``"noisy_source"``, ``"dissimilar_source"`` or
``"unmatched_classes"``, with ``"+damp"`` /
``"+restore_epoch_<e>"`` appended; ``"start"`` for the check before adaptation (epoch -1)
and ``"keep"``, ``"flag"`` or ``"fallback"`` for the final one (epoch ``"final"``); an entry that restores also has ``restored_score``,
the restored checkpoint's score, while its ``score`` and ``negative`` describe the last
state, which the restore discarded, and its ``transfer_scale`` the restored one; the final
entry's ``reason`` says why it is negative, None when it is not), ``fell_back_to_reference_`` (bool),
``transfer_labels_`` (the transfer model's final partition that the verdict judged, which
a fallback replaces in ``labels_``) and ``reference_`` (the fitted
:class:`NoTransferReference`), ``monitor_margin_`` (the margin used; the monitor's
``calibration_`` holds its parts, the source slope and the resolution; ``score_counts_``
whether the score's verdict counts; ``restore_gain_`` the lead a checkpoint needs to be
restored), ``source_correspondence_`` (the feature-correspondence test's result, with the
structural similarity, the signal ratio and the verdicts ``similar`` / ``clean`` for a
related source; or None), ``source_class_agreement_`` (the class agreement, or None).
Adaptation epochs that are checked get ``monitor_score``, ``monitor_reference`` and
``monitor_decision`` in their ``history_`` entry, and a final ``{"stage": "monitor",
...}`` entry is appended to ``history_``.

**A collapsed partition** (every scored row in one cluster) has no label-free score: it is
the worst negative transfer, negative whatever the score's resolution, with reason
``"collapsed_partition"`` and ``score`` None in the trail (and ``monitor_score`` None in
``history_``); policy ``rollback`` never keeps such a state as its best, so never restores
one, and a collapsed final partition falls back to the reference.

Target labels never reach the monitor: it sees ``pair`` as the estimator does (labels
removed by :class:`dtc.methods.TransferClusterer`), and it removes them again itself.
"""

from __future__ import annotations

import math
import os

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans

from dtc._validation import SEED_MAX, check_seed, is_finite_number
from dtc.cluster.kmeans import SINGLE_THREAD_BELOW, limit_threads
from dtc.monitor import scores
from dtc.monitor.base import Callback
from dtc.monitor.calibration import score_slope, source_bias
from dtc.monitor.class_agreement import class_agreement
from dtc.monitor.partition_score import (
    COLLAPSED,
    METRICS,
    check_scored_rows,
    common_space_score,
    is_collapsed,
    scored_space,
    unusable_reason,
    usable_scores,
)
from dtc.monitor.reference import NoTransferReference
from dtc.monitor.relatedness import (
    DEFAULT_MIN_SIGNAL_RATIO,
    DEFAULT_MIN_SIMILARITY,
    check_source,
    check_thresholds,
)
from dtc.monitor.scores import knn_agreement  # re-exported: the default score

__all__ = [
    "DEFAULT_METRIC",
    "POLICIES",
    "SPACES",
    "NegativeTransferMonitor",
    "current_target_embedding",
    "knn_agreement",
]

POLICIES = ("warn", "adapt", "rollback", "adapt+rollback")
SPACES = ("raw", "joint")
# Feature-correspondence test: permutations and significance level.
_CORRESPONDENCE_PERMUTATIONS = 99
_CORRESPONDENCE_P = 0.01
#: The default ``max_resolution`` (ACC points; rule #14 of experiments/preregistration.md).
DEFAULT_MAX_RESOLUTION = 10.0
#: The default ``min_restore_gain`` (rule #15 of experiments/preregistration.md).
DEFAULT_MIN_RESTORE_GAIN = 0.0
#: The default ``min_class_agreement`` (rule #20 of experiments/preregistration.md).
DEFAULT_MIN_CLASS_AGREEMENT: float | None = 0.15
#: The default ``metric`` (rule #16 of experiments/preregistration.md).
DEFAULT_METRIC = "euclidean"


def current_target_embedding(estimator, X) -> np.ndarray:
    """The estimator's current target embedding of ``X`` ``(n, d)`` -> ``(n, k)``, where
    ``X`` holds rows of the pair given to ``on_fit_begin`` (already preprocessed).

    Uses ``estimator.transform_target(X, preprocessed=True)`` when the estimator has it;
    otherwise its target autoencoder during the fit (``estimator._tgt_ae``).
    """
    fn = getattr(estimator, "transform_target", None)
    if callable(fn):
        return np.asarray(fn(X, preprocessed=True), dtype=np.float32)
    ae = getattr(estimator, "_tgt_ae", None)
    if ae is None:
        raise ValueError(
            "NegativeTransferMonitor: the estimator exposes neither transform_target(X) nor a "
            "target autoencoder; it needs one of them to embed the target during adaptation"
        )
    from dtc.nn.training import embed

    return embed(ae.encoder, X)


# BaseEstimator: get_params / set_params / clone and a repr that shows the settings.
class NegativeTransferMonitor(Callback, BaseEstimator):
    """Watch a DTC fit for negative transfer (see the module docstring).

    Parameters
    ----------
    policy : {"warn", "adapt", "rollback", "adapt+rollback"}
    score : str
        ``"knn_agreement"`` (default, :func:`knn_agreement`) or a label-free score of
        :mod:`dtc.monitor.scores` (``LABEL_SCORES`` or ``PROB_SCORES``) but those
        :data:`~dtc.monitor.partition_score.UNUSABLE_SCORES` refuses:
        ``clustering_stability`` scores an algorithm, not a partition, and the soft
        neighbourhood density ranks a poor partition's near-uniform assignments best.
        Soft-assignment scores need nothing from the estimator beyond its embedding
        (module docstring). The scored rows must be more than the clusters, and for
        ``knn_agreement`` more than 10 (its neighbours).
        The default is k-NN agreement rather than the silhouette because DTC's
        partitions (spherical K-means at source class means, self-training) are not
        Euclidean-convex: on the digits default (DTC 10 + 10 epochs, 2 self-training
        rounds) the silhouette flagged the true source (DTC 83.5% ACC, reference 64.6%)
        and k-NN agreement did not, while both flagged a permuted-feature source.
    space : {"raw", "joint"}
        Where both partitions are scored (module docstring).
    metric : {"euclidean", "cosine"}
        The geometry every score sees (the partitions', the restarts', the source's):
        ``"cosine"`` scales each row of each scored space to unit length first (module
        docstring, "Metric"; rule #16 of ``experiments/preregistration.md``).
    every : int
        Check every ``every`` adaptation epochs (and always after the last one).
    tolerance : float
        Transfer is negative when its score is below the reference's by more than this
        (plus the calibrated margin with ``calibrate``).
    calibrate : bool
        Widen the margin by what the score cannot resolve (module docstring,
        "Calibrated margin"): twice the spread of the score over K-means restarts of the
        reference, plus -- when the estimator uses source labels -- the score's measured
        bias against class partitions on the source. The margin is ``margin_``.
    n_restarts : int
        K-means restarts of the reference whose score spread ``calibrate`` measures. A
        standard deviation from few draws is itself noisy: with 5, two fits of the same
        DTC on the digits default (10 + 10 epochs) that differed only in the z-scoring
        floor measured 0.006 and 0.019, and the smaller margin flagged a source that had
        lifted ACC from 73.5 to 85.1 %; with 20 they measured 0.017 and 0.016. Also the
        number of K-means fits (``n_init`` starts each) of the source whose mean score
        ``source_bias`` takes.
    check_features : bool
        Test before training that the source's features correspond to the target's
        (module docstring, "Feature correspondence"); a source that fails is negative
        transfer. The result is ``correspondence_``. Its cost grows with the square of the
        number of features and with at most ``max_samples`` rows a domain
        (:func:`dtc.monitor.relatedness.check_source`: 8 s at 2,000 features): set False
        for wide data.
    min_similarity : float in [0, 1], "family" or None
        A source that passes the correspondence test is negative transfer all the same
        when its structural similarity to the target is below this (module docstring,
        "Structural similarity"); ``"family"`` (the default): the threshold of the pair's
        benchmark family, not judged for other data; None: not judged (reported while
        ``min_signal_ratio`` is set, which needs it).
        Needs ``check_features``.
    min_restore_gain : float >= 0 or "spread"
        Policy ``rollback``: the best checkpoint replaces the state of the last epoch only
        when its score is higher by more than this (ties keep the last state). ``"spread"``:
        ``tolerance + 2 * restart_spread`` with ``calibrate`` (``tolerance`` without), the
        difference between equally good partitions -- the maximum of several noisy scores
        is biased upwards, so a lead smaller than that is no evidence. Not the default: on
        fresh set 3 (rule #15 of ``experiments/preregistration.md``, 112 runs) restoring
        the best checkpoint whatever its lead helped more (mean guarded - target-only +7.19
        against +6.98 ACC points). The value used is ``restore_gain_``.
    max_resolution : float > 0 or None
        With ``calibrate`` and source labels, the score's verdict counts only where its
        *resolution* -- the margin divided by :func:`~dtc.monitor.calibration.score_slope` on
        the source, the ACC points a partition must lose before the score can flag it -- is
        at most this (module docstring, "Resolution"); elsewhere only the source checks can
        flag.
        None: the score always counts.
    min_signal_ratio : float >= 0 or None
        A source that passes the correspondence test is negative all the same when its
        correlation structure's signal per row is below this fraction of the target's
        (module docstring, "A noisy source"); None: not checked. Needs
        ``check_features``.
    min_class_agreement : float in [-1, 1] or None
        With source labels the estimator uses, a source whose classes the target's K-means
        clusters follow less than this (adjusted mutual information; module docstring,
        "Class agreement") is negative, reason ``"unmatched_classes"``, after the other
        source checks; the agreement is reported in ``class_agreement_`` either way. None:
        not judged.
    max_samples : int >= 3
        Size of the fixed target subsample that is scored (it must leave the score the
        rows it needs: ``score``).
    adapt_factor : float in (0, 1)
        Multiplier of ``transfer_scale_`` at each damping (policy ``adapt``).
    min_delta : float
        A score change smaller than this is no fall (policy ``adapt``).
    reference_epochs : int or None
        Epochs of the reference autoencoder (None: the estimator's budget in gradient
        steps, pretraining, adaptation and self-training, over the steps of one epoch on
        the target: :meth:`NoTransferReference.from_estimator
        <dtc.monitor.reference.NoTransferReference.from_estimator>`).
    cache_dir : path or None
        Disk cache of the reference.
    n_init : int
        K-means restarts on the transfer embedding at each check.
    seed : int or None
        Seeds the subsample and the K-means; ``None`` (the default): the estimator's
        ``seed``, so that the runs of a sweep over seeds vary the monitor's draws with the
        fit's (0 for an estimator without one).
    """

    def __init__(
        self,
        policy: str = "warn",
        *,
        score: str = "knn_agreement",
        space: str = "raw",
        metric: str = DEFAULT_METRIC,
        every: int = 1,
        tolerance: float = 0.0,
        max_samples: int = 1000,
        adapt_factor: float = 0.5,
        min_delta: float = 1e-3,
        reference_epochs: int | None = None,
        cache_dir=None,
        n_init: int = 3,
        calibrate: bool = True,
        n_restarts: int = 20,
        check_features: bool = True,
        min_similarity: float | str | None = DEFAULT_MIN_SIMILARITY,
        min_signal_ratio: float | None = DEFAULT_MIN_SIGNAL_RATIO,
        max_resolution: float | None = DEFAULT_MAX_RESOLUTION,
        min_restore_gain: float | str = DEFAULT_MIN_RESTORE_GAIN,
        min_class_agreement: float | None = DEFAULT_MIN_CLASS_AGREEMENT,
        seed: int | None = None,
    ):
        self.policy = policy
        self.score = score
        self.space = space
        self.metric = metric
        self.every = every
        self.tolerance = tolerance
        self.max_samples = max_samples
        self.adapt_factor = adapt_factor
        self.min_delta = min_delta
        self.reference_epochs = reference_epochs
        self.cache_dir = cache_dir
        self.n_init = n_init
        self.calibrate = calibrate
        self.n_restarts = n_restarts
        self.check_features = check_features
        self.min_similarity = min_similarity
        self.min_signal_ratio = min_signal_ratio
        self.max_resolution = max_resolution
        self.min_restore_gain = min_restore_gain
        self.min_class_agreement = min_class_agreement
        self.seed = seed

    # -- validation -------------------------------------------------------------
    def check_params(self) -> None:
        """The data-free checks of the parameters, as :meth:`on_fit_begin` runs them first:
        ``ValueError`` naming the parameter. For a caller that builds the monitor long
        before a fit (a script checking its options before it trains anything)."""
        self._check_params()

    def _check_params(self) -> None:
        name = "NegativeTransferMonitor"
        if self.policy not in POLICIES:
            raise ValueError(f"{name}: policy must be one of {POLICIES}, got {self.policy!r}")
        if self.space not in SPACES:
            raise ValueError(f"{name}: space must be one of {SPACES}, got {self.space!r}")
        if self.metric not in METRICS:
            raise ValueError(f"{name}: metric must be one of {METRICS}, got {self.metric!r}")
        usable = usable_scores()
        if not isinstance(self.score, str) or self.score not in usable:
            why = unusable_reason(self.score)
            raise ValueError(f"{name}: score must be one of {usable}, got {self.score!r}{why}")
        for attr in ("calibrate", "check_features"):
            v = getattr(self, attr)
            if not isinstance(v, (bool, np.bool_)):
                raise ValueError(f"{name}: {attr} must be a bool, got {v!r}")
        # max_samples: the fewest rows a partition into 2 clusters can be scored on; the
        # score's own minimum for the estimator's clusters is checked in on_fit_begin.
        checks = (("every", 1), ("max_samples", 3), ("n_init", 1), ("n_restarts", 2))
        for attr, low in checks:
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"{name}: {attr} must be an int >= {low}, got {v!r}")
        # the restarts' K-means take seed + 1 to seed + n_restarts (scikit-learn's 32 bits):
        # a larger seed failed there, after the reference had been trained
        if self.seed is not None:
            check_seed(self.seed, owner=name, reserve=int(self.n_restarts))
        e = self.reference_epochs  # the reference's error named its own "epochs"
        if e is not None and (isinstance(e, bool) or not isinstance(e, (int, np.integer)) or e < 0):
            raise ValueError(f"{name}: reference_epochs must be None or an int >= 0, got {e!r}")
        if self.cache_dir is not None and not isinstance(self.cache_dir, (str, os.PathLike)):
            raise ValueError(
                f"{name}: cache_dir must be None or a path (str or os.PathLike), got "
                f"{self.cache_dir!r}"
            )
        f = self.adapt_factor
        # a string "0.5" passed float() here and failed later, at the multiplication
        if (
            isinstance(f, bool)
            or not isinstance(f, (int, float, np.integer, np.floating))
            or not 0.0 < f < 1.0
        ):
            raise ValueError(f"{name}: adapt_factor must be in (0, 1), got {f!r}")
        check_thresholds(self.min_similarity, self.min_signal_ratio, name)
        r = self.max_resolution
        # is_finite_number: np.isfinite raised a bare TypeError past 2**64
        if r is not None and (not is_finite_number(r) or r <= 0):
            raise ValueError(
                f"{name}: max_resolution must be a finite number > 0 or None, got {r!r}"
            )
        g = self.min_restore_gain
        if (not isinstance(g, str) or g != "spread") and (not is_finite_number(g) or g < 0):
            raise ValueError(
                f"{name}: min_restore_gain must be a finite number >= 0 or 'spread', got {g!r}"
            )
        a = self.min_class_agreement
        if a is not None and (
            isinstance(a, bool)
            or not isinstance(a, (int, float, np.integer, np.floating))
            or not -1.0 <= a <= 1.0
        ):
            raise ValueError(
                f"{name}: min_class_agreement must be None or a number in [-1, 1], got {a!r}"
            )
        for attr in ("tolerance", "min_delta"):
            v = getattr(self, attr)
            # a bool is no threshold (tolerance=True was a margin of 1.0)
            if not is_finite_number(v) or v < 0:
                raise ValueError(f"{name}: {attr} must be a finite number >= 0, got {v!r}")

    @property
    def _adapts(self) -> bool:
        return "adapt" in self.policy

    @property
    def _rolls_back(self) -> bool:
        return "rollback" in self.policy

    # -- scoring ----------------------------------------------------------------
    def _partition_score(self, labels, Z_transfer=None) -> float:
        """Score of the partition ``labels`` ``(n,)`` of the target in ``space``; in joint
        space over the raw rows, the reference embedding and the transfer embedding
        ``Z_transfer`` ``(n, k)`` (None: there is none, as for the restarts)."""
        spaces = [self._X]
        if self.space == "joint":
            spaces.append(self._Z_ref)
            if Z_transfer is not None:
                spaces.append(np.asarray(Z_transfer)[self._idx])
        spaces = [scored_space(S, self.metric) for S in spaces]
        return common_space_score(self.score, np.asarray(labels)[self._idx], spaces)

    def _reference_score(self, Z_transfer) -> float:
        return self._partition_score(self.reference_.labels_, Z_transfer)

    def _transfer_score(self, labels, Z_transfer) -> float:
        """:meth:`_partition_score` of a transfer partition ``labels`` ``(n,)``; ``-inf``
        when it is collapsed on the scored rows
        (:func:`~dtc.monitor.partition_score.is_collapsed`): it has no score, ranks below every
        partition that has one, and is recorded as None."""
        if is_collapsed(np.asarray(labels)[self._idx]):
            return -math.inf
        return self._partition_score(labels, Z_transfer)

    def _evaluate(self, estimator) -> tuple[float, float]:
        """(transfer score, reference score) of the current adaptation state."""
        # Only the scored rows are embedded (every score reads those alone): embedding the
        # whole target made each check O(n), 0.23 s of 0.23 at 40,000 rows.
        scored = current_target_embedding(estimator, self._X_full[self._idx])
        Z = np.zeros((len(self._X_full), scored.shape[1]), dtype=scored.dtype)
        Z[self._idx] = scored
        # the embedding above runs on the estimator's threads; the K-means and the scores of
        # at most max_samples rows on one (see _few_threads)
        with self._few_threads():
            km = KMeans(self._k, n_init=self.n_init, random_state=self._seed).fit(scored)
            labels = np.zeros(len(Z), dtype=np.int64)
            labels[self._idx] = km.labels_
            return self._transfer_score(labels, Z), self._reference_score(Z)

    def _few_threads(self):
        """OpenMP / BLAS on one thread for the monitor's scikit-learn and numpy work on its
        subsamples (at most ``max_samples`` rows), as :func:`dtc.cluster.kmeans.kmeans` runs
        problems of that size: on a busy 2-core machine their thread pools cost 4 to 60 times
        the work (a monitored digits fit 8.2 s against 2.4 s)."""
        return limit_threads(int(self.max_samples) < SINGLE_THREAD_BELOW)

    def _below(self, value: float, reference: float) -> bool:
        """The score's own verdict: below the reference by more than the margin."""
        return bool(value < reference - self.margin_)

    def _negative(self, value: float, reference: float) -> bool:
        # A collapsed partition is negative whether or not the score's verdict counts.
        return (
            self._source_reason is not None
            or value == -math.inf
            or (self.score_counts_ and self._below(value, reference))
        )

    def _reason(self, negative: bool, value: float) -> str | None:
        """Why a check of score ``value`` is negative (None when it is not)."""
        if not negative:
            return None
        if value == -math.inf:
            return COLLAPSED
        return self._source_reason or "below_reference"

    def _entry(self, epoch, value: float, reference: float, discrepancy, estimator) -> dict:
        """The trail entry of a check (without its ``decision``); a collapsed partition's
        score is recorded as None, not ``-inf``, which JSON does not have."""
        return {
            "epoch": epoch,
            "score": None if value == -math.inf else value,
            "reference": reference,
            "discrepancy": discrepancy,
            "transfer_scale": float(getattr(estimator, "transfer_scale_", 1.0)),
            "negative": self._negative(value, reference),
            "score_below": self._below(value, reference),
        }

    def _correspondence(self, pair) -> dict | None:
        """The source checks (:func:`dtc.monitor.relatedness.check_source`) of ``pair``'s
        source against the scored target rows, or None where they do not apply (a
        heterogeneous pair, whose features differ by design; too few varying features;
        switched off)."""
        source = pair.source
        if not self.check_features or pair.heterogeneous or source.n_features != self._X.shape[1]:
            return None
        idx = scores.subsample_index(source.n_samples, int(self.max_samples), self._seed)
        return check_source(
            np.asarray(source.X[idx], dtype=np.float64),
            self._X,
            min_similarity=self.min_similarity,
            min_signal_ratio=self.min_signal_ratio,
            benchmark=pair.benchmark,
            n_permutations=_CORRESPONDENCE_PERMUTATIONS,
            alpha=_CORRESPONDENCE_P,
            seed=self._seed,
        )

    def _class_agreement(self, pair, uses_labels: bool) -> dict | None:
        """:func:`dtc.monitor.class_agreement.class_agreement` of the source's classes with
        the scored target rows' K-means clusters, or None where it does not apply (an
        estimator that does not use source labels, an unlabelled source, a heterogeneous
        pair, scored rows all alike: no clusters, which the reference's check names with
        the advice that applies)."""
        source = pair.source
        rows = self._source_rows(source) if uses_labels else None
        if rows is None or pair.heterogeneous or source.n_features != self._X.shape[1]:
            return None
        if (self._X[0] == self._X).all():
            return None
        if np.unique(rows[1]).size < 2:
            return None
        return class_agreement(*rows, self._X, self._k, seed=self._seed)

    def _restart_spread(self) -> float:
        """Standard deviation ``(ddof=1)`` of the score over ``n_restarts`` single-start
        K-means partitions of the reference embedding: how much the score moves between
        target-only partitions that are equally good. In joint space they are scored on
        the raw rows and the reference embedding: there is no transfer embedding yet, and
        scoring the reference's twice in its stead would weigh the restarts' own space
        2/3 instead of the 1/3 it has in the scores the margin protects."""
        values = []
        for r in range(int(self.n_restarts)):
            km = KMeans(self._k, n_init=1, random_state=self._seed + 1 + r)
            labels = np.zeros(len(self.reference_.labels_), dtype=np.int64)
            labels[self._idx] = km.fit(self._Z_ref).labels_
            values.append(self._partition_score(labels))
        return float(np.std(values, ddof=1))

    def _source_rows(self, source) -> tuple[np.ndarray, np.ndarray] | None:
        """``(X, y)`` of the monitor's fixed subsample of a labelled ``source``, else None."""
        if source.y is None:
            return None
        idx = scores.subsample_index(source.n_samples, int(self.max_samples), self._seed)
        return np.asarray(source.X[idx], dtype=np.float64), np.asarray(source.y)[idx]

    def _check_source_rows(self, source, uses_labels: bool) -> None:
        """``ValueError`` before the reference is trained when the labelled ``source``'s
        scored rows are too few for the score that calibration computes on them
        (:func:`~dtc.monitor.calibration.source_bias`,
        :func:`~dtc.monitor.calibration.score_slope`: the source's classes as clusters)."""
        rows = self._source_rows(source) if self.calibrate and uses_labels else None
        k = 0 if rows is None else np.unique(rows[1]).size
        if k < 2:  # no class partition to score: calibration leaves the source out
            return
        check_scored_rows(
            "NegativeTransferMonitor",
            self.score,
            k,
            source.n_samples,
            self.max_samples,
            what="source",
            hint=(
                f" (the labelled source {source.name!r} calibrates the margin: calibrate=True "
                "and the estimator uses source labels); pass calibrate=False or a larger source"
            ),
        )

    def _source_bias(self, rows) -> float | None:
        """:func:`~dtc.monitor.calibration.source_bias` of the source ``rows``, its K-means
        fits seeded like the restarts of ``_restart_spread`` (rule #11 of
        ``experiments/preregistration.md``)."""
        return source_bias(
            *rows,
            score=self.score,
            n_init=int(self.n_init),
            kmeans_seeds=range(self._seed + 1, self._seed + 1 + int(self.n_restarts)),
        )

    def _calibrate(self, source, uses_labels: bool) -> dict:
        """The margin's parts and the score's resolution (module docstring); sets
        ``margin_``. The source labels are used only when the estimator itself uses them
        ("no labels anywhere" stays label-free)."""
        spread = self._restart_spread()
        rows = self._source_rows(source) if uses_labels else None
        if rows is not None:  # the source is scored in the target's geometry
            rows = (scored_space(rows[0], self.metric), rows[1])
        bias = None if rows is None else self._source_bias(rows)
        self.margin_ += 2.0 * spread + max(0.0, bias or 0.0)
        slope = resolution = None
        if rows is not None:
            slope = score_slope(*rows, score=self.score, seed=self._seed)
        if slope is not None:
            # A score that does not fall when the classes are scrambled resolves nothing.
            resolution = self.margin_ / slope if slope > 0 else math.inf
        return {
            "restart_spread": spread,
            "source_bias": bias,
            "source_slope": slope,
            "resolution": resolution,
        }

    def _record(self, estimator, entry: dict) -> None:
        self.trail_.append(entry)
        estimator.monitor_trail_ = self.trail_

    # The monitor's results of one fit, and the private state its checks read.
    _FIT_STATE = (
        "correspondence_",
        "class_agreement_",
        "reference_",
        "margin_",
        "calibration_",
        "score_counts_",
        "restore_gain_",
        "trail_",
        "_seed",
        "_k",
        "_X_full",
        "_idx",
        "_X",
        "_source_reason",
        "_Z_ref",
        "_best",
        "_last",
        "_pending",
    )

    def _forget_fit(self) -> None:
        # Its attributes describe one fit: an on_fit_begin that fails part-way must not
        # leave this fit's correspondence beside the last one's reference and margin.
        for name in self._FIT_STATE:
            self.__dict__.pop(name, None)

    def _fit_seed(self, estimator) -> int:
        # A fixed 0 drew the same subsample and K-means for every seed of a sweep: a
        # config's monitor (and one built in Python) ran at 0 where the harness gives it
        # the run's seed, and Table 2's spread over seeds left its draws out.
        if self.seed is not None:
            return int(self.seed)
        seed = getattr(estimator, "seed", None)
        if seed is None:
            return 0
        seed = check_seed(seed, owner="NegativeTransferMonitor (seed=None: the estimator's seed)")
        # folded into the range whose restarts (seed + 1 to seed + n_restarts) fit in 32
        # bits: a DTC seed near 2**32 - 1 is DTC's to take, and failed the fit
        return seed % (SEED_MAX - int(self.n_restarts) + 1)

    # -- hooks ------------------------------------------------------------------
    def on_fit_begin(self, estimator, pair) -> None:
        self._forget_fit()
        try:
            self._begin(estimator, pair)
        except BaseException:
            self._forget_fit()
            raise

    def _begin(self, estimator, pair) -> None:
        self._check_params()
        self._seed = self._fit_seed(estimator)
        target = pair.target.without_labels()  # labels never reach the monitor
        k = getattr(estimator, "n_clusters", None) or pair.n_clusters
        uses_labels = bool(getattr(estimator, "use_source_labels", True))
        if k is None and uses_labels and pair.source.has_labels:
            # as DTC does: one cluster per source class
            k = np.unique(pair.source.y).size
        if k is None:
            raise ValueError(
                "NegativeTransferMonitor: needs the number of clusters before training (for "
                "the reference): estimator.n_clusters and pair.n_clusters are None and no "
                "labelled source gives it (the monitor does not estimate k, whether or not the "
                "estimator does); give n_clusters"
            )
        self._k = int(k)
        n = target.n_samples
        # Checked before the reference is trained: a score that cannot be computed on the
        # scored rows would otherwise fail only at calibration, after that training.
        check_scored_rows("NegativeTransferMonitor", self.score, self._k, n, self.max_samples)
        # the source calibrates the margin only as data of the target's kind (module docstring)
        calibrates = uses_labels and not pair.heterogeneous
        self._check_source_rows(pair.source, calibrates)
        self._X_full = target.X
        self._idx = scores.subsample_index(n, int(self.max_samples), self._seed)
        self._X = np.asarray(target.X[self._idx], dtype=np.float64)
        # The source checks need no reference: run first, so that a source they cannot
        # take fails before the reference's training.
        with self._few_threads():
            self.correspondence_ = self._correspondence(pair)
        self._source_reason = (
            None if self.correspondence_ is None else self.correspondence_["verdict"]
        )
        with self._few_threads():
            self.class_agreement_ = self._class_agreement(pair, uses_labels)
        if (
            self._source_reason is None
            and self.class_agreement_ is not None
            and self.min_class_agreement is not None
            and self.class_agreement_["agreement"] < float(self.min_class_agreement)
        ):
            self._source_reason = "unmatched_classes"
        # The image shape the estimator's target network reads the rows with (DTC._build):
        # on a pair of one feature space the network is built for the source's (shared, or
        # copied by ADDA) and runs on the target rows too; a heterogeneous pair's target
        # network is built for the target's own. The target's alone failed a target
        # without one (DTC refuses a target that declares another layout).
        image_shape = target.image_shape
        if not pair.heterogeneous and pair.source.image_shape is not None:
            image_shape = pair.source.image_shape
        self.reference_ = NoTransferReference.from_estimator(
            estimator,
            self._k,
            n_source=pair.source.n_samples,
            n_target=n,
            labelled_source=pair.source.y is not None,
            heterogeneous=pair.heterogeneous,
            epochs=self.reference_epochs,
            cache_dir=self.cache_dir,
            target_image_shape=target.image_shape,
        ).fit(target.X, image_shape=image_shape)
        self._Z_ref = self.reference_.embedding_[self._idx]
        if is_collapsed(self.reference_.labels_[self._idx]):
            # every score of the reference needs two clusters on the scored rows: a small
            # cluster the subsample missed was the score's error at the first check, with
            # neither the reference nor max_samples named
            why = (
                "its K-means found one cluster on the whole target (its embedding has fewer "
                "than n_clusters distinct points)"
                if is_collapsed(self.reference_.labels_)
                else "its other clusters are too small to be drawn: raise max_samples"
            )
            raise ValueError(
                f"NegativeTransferMonitor: the no-transfer reference's partition has one "
                f"cluster on the {len(self._idx)} scored rows (max_samples="
                f"{self.max_samples}); {why}"
            )
        self.margin_ = float(self.tolerance)
        self.calibration_ = None
        if self.calibrate:
            with self._few_threads():
                self.calibration_ = self._calibrate(pair.source, calibrates)
        resolution = None if self.calibration_ is None else self.calibration_["resolution"]
        self.score_counts_ = (
            self.max_resolution is None
            or resolution is None
            or resolution <= float(self.max_resolution)
        )
        estimator.monitor_margin_ = self.margin_
        if self.min_restore_gain == "spread":
            spread = 0.0 if self.calibration_ is None else self.calibration_["restart_spread"]
            self.restore_gain_ = float(self.tolerance) + 2.0 * spread
        else:
            self.restore_gain_ = float(self.min_restore_gain)
        estimator.source_correspondence_ = self.correspondence_
        estimator.source_class_agreement_ = self.class_agreement_
        self.trail_: list[dict] = []
        self._best = None  # (score, epoch, state, transfer_scale_) for rollback
        self._last = None  # (score, discrepancy) of the previous check, for adapt
        self._pending = None  # an epoch end not known to be the last (see on_adapt_end)
        estimator.negative_transfer_ = False
        estimator.fell_back_to_reference_ = False
        estimator.reference_ = self.reference_
        estimator.monitor_trail_ = self.trail_

    def on_adapt_begin(self, estimator, state: dict) -> None:
        value, ref = self._evaluate(estimator)
        # The start's discrepancy too: without it the first check could not see the
        # discrepancy fall, and `adapt` never damped there (nor at all with every >=
        # adapt_epochs, where the first check is the only one).
        measure = getattr(estimator, "discrepancy", None)
        disc = measure() if callable(measure) else None
        disc = None if disc is None else float(disc)
        self._last = (value, disc)
        if self._rolls_back and value > -math.inf:  # a collapsed state is never restored
            self._best = (value, -1, state, float(estimator.transfer_scale_))
        self._record(
            estimator, {**self._entry(-1, value, ref, disc, estimator), "decision": "start"}
        )

    def on_adapt_epoch_end(self, estimator, epoch: int, logs: dict) -> None:
        last = epoch + 1 >= int(getattr(estimator, "adapt_epochs", epoch + 1)) or bool(
            getattr(estimator, "stop_training_", False)
        )
        # A callback after this one may still stop adaptation at this epoch: then
        # on_adapt_end finishes the epoch as the last one.
        self._pending = None if last else (epoch, logs, None, None)
        if (epoch + 1) % self.every != 0 and not last:
            return
        value, entry = self._check(estimator, epoch, logs, last)
        if not last:
            self._pending = (epoch, logs, value, entry)

    def on_adapt_end(self, estimator) -> None:
        """Adaptation ended. When a callback after this one stopped it, the last epoch was
        not known to be the last when this monitor saw it: it is checked now (scored if it
        was skipped by ``every``; the best checkpoint restored if it leads)."""
        pending, self._pending = getattr(self, "_pending", None), None
        if pending is None:
            # no epoch left unchecked (or none ran: adapt_epochs=0 kept the start's
            # snapshot for the life of the monitor)
            self._best = None
            return
        epoch, logs, value, entry = pending
        if entry is None:  # not scored at its epoch end: the whole check of a last epoch
            self._check(estimator, epoch, logs, True)
            return
        restored = self._restore_best(estimator, epoch, value)
        if restored is not None:
            entry["decision"] += f"+restore_epoch_{restored[1]}"
            entry["transfer_scale"] = float(estimator.transfer_scale_)
            entry["restored_score"] = restored[0]
            logs["monitor_decision"] = entry["decision"]
        self._best = None

    def _check(self, estimator, epoch: int, logs: dict, last: bool) -> tuple[float, dict]:
        """Score the state after adaptation epoch ``epoch``, damp or keep the best
        checkpoint, restore it at the ``last`` epoch; returns the score and trail entry."""
        value, ref = self._evaluate(estimator)
        disc = logs.get("discrepancy")
        disc = None if disc is None else float(disc)
        decisions = [self._reason(self._negative(value, ref), value) or "ok"]
        if self._adapts and self._last is not None:
            prev_value, prev_disc = self._last
            falls = value < prev_value - float(self.min_delta)
            aligns = disc is not None and prev_disc is not None and disc < prev_disc
            if falls and aligns:
                estimator.transfer_scale_ = float(estimator.transfer_scale_) * float(
                    self.adapt_factor
                )
                decisions.append("damp")
        self._last = (value, disc)
        restored = None
        if self._rolls_back:
            # A collapsed state (-inf) is never kept as the best, so never restored.
            if value > -math.inf and (self._best is None or value > self._best[0]):
                scale = float(estimator.transfer_scale_)
                self._best = (value, epoch, estimator.get_state(), scale)
            if last:
                restored = self._restore_best(estimator, epoch, value)
            if restored is not None:
                decisions.append(f"restore_epoch_{restored[1]}")
        entry = {
            **self._entry(int(epoch), value, ref, disc, estimator),
            "decision": "+".join(decisions),
        }
        if restored is not None:
            entry["restored_score"] = restored[0]
        self._record(estimator, entry)
        logs["monitor_score"], logs["monitor_reference"] = entry["score"], ref
        logs["monitor_decision"] = entry["decision"]
        if last:
            self._best = None  # the snapshot is no longer needed: free its memory
        return value, entry

    def _restore_best(self, estimator, epoch: int, value: float) -> tuple[float, int] | None:
        """At the last adaptation epoch ``epoch`` (score ``value``): restore the best
        checkpoint when it leads by more than ``restore_gain_``; returns its score and
        epoch, or None when the last state stays."""
        best = self._best
        if not (
            self._rolls_back
            and best is not None
            and best[1] != epoch
            and best[0] - value > self.restore_gain_
        ):
            return None
        restored, best_epoch, state, scale = best
        estimator.set_state(state)
        # The transfer strength is part of the checkpoint: a damping after it answered
        # epochs that the restore undoes (policy adapt+rollback).
        estimator.transfer_scale_ = scale
        return restored, best_epoch

    def on_fit_failed(self, estimator) -> None:
        # The failed fit's trail and calibration stay, to see how far it went; its
        # rollback snapshot (the networks and the optimiser) is freed, as on_adapt_end
        # frees it after a fit that goes on.
        self._best = self._pending = None

    def on_fit_end(self, estimator) -> None:
        Z = np.asarray(estimator.embedding_)
        value = self._transfer_score(estimator.labels_, Z)
        ref = self._reference_score(Z)
        negative = self._negative(value, ref)
        decision = "flag" if negative else "keep"
        # The transfer partition the verdict is about, kept when a fallback replaces it.
        estimator.transfer_labels_ = np.asarray(estimator.labels_).copy()
        if negative and self._rolls_back:
            estimator.labels_ = self.reference_.labels_.copy()
            estimator.embedding_ = self.reference_.embedding_.copy()
            estimator.cluster_centers_ = self.reference_.cluster_centers_.copy()
            if hasattr(estimator, "cluster_classes_"):
                # The reference's clusters are not named by source classes.
                del estimator.cluster_classes_
            estimator.fell_back_to_reference_ = True
            decision = "fallback"
        estimator.negative_transfer_ = negative
        entry = {
            **self._entry("final", value, ref, None, estimator),
            "decision": decision,
            "reason": self._reason(negative, value),
        }
        self._record(estimator, entry)
        history = getattr(estimator, "history_", None)
        if history is not None:
            history.append({"stage": "monitor", **entry})
