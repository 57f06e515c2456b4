"""The DTC estimator: pretrain -> adapt -> cluster -> (refine), registered as ``dtc``.

Deep transfer clustering in four stages, each checkpointed:

1. **pretrain** a deep autoencoder on the source (or on both domains): reconstruction,
   optionally denoising, optionally with a supervised head on the source labels;
2. **adapt** the encoder to the target: reconstruction + lambda x an alignment loss of
   :mod:`dtc.align` between source and target embeddings (+ the supervised source loss).
   ``encoder_mode="shared"`` is the symmetric set-up of DANN (Ganin et al., JMLR 2016);
   ``"asymmetric"`` that of ADDA (Tzeng, Hoffman, Saenko & Darrell, CVPR 2017): the
   source encoder is frozen and a target encoder, initialised from it (or a new network
   for a heterogeneous pair), is trained to match it. Only ADDA's arrangement of the
   encoders: the target encoder is trained by the alignment loss chosen (with ``"dann"``,
   the gradient-reversal minimax, not ADDA's inverted-label GAN loss) beside the
   reconstruction loss, which ADDA does not have;
3. **cluster** the target embeddings (K-means, spectral or GMM of :mod:`dtc.cluster`),
   with *model transfer*: target centres initialised at source cluster centres
   (unlabelled source) or source class means (labelled source), which names the clusters
   by source classes (``cluster_classes_``);
   An optional **self-training** stage between 2 and 3 alternates pseudo-labelling the
   target (K-means, spherical by default, anchored at the source class means with a
   labelled source, else at the previous round's centres (the first round: the
   clusterer's on the target); a confident class-balanced subset) and training on them
   (CAN: Kang, Jiang, Yang & Hauptmann, CVPR 2019; see :mod:`dtc.self_training`);
4. optional **refine**: DEC (Xie, Girshick & Farhadi, ICML 2016) or IDEC (Guo, Gao, Liu &
   Yin, IJCAI 2017) self-training on Student-t soft assignments, with the alignment kept on
   (class-conditional through the soft assignments for a conditional loss).

Target labels are never seen (:class:`dtc.methods.TransferClusterer` removes them).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import hashlib
import inspect
import itertools
import json
import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sklearn
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.exceptions import NotFittedError
from torch import nn
from torch.nn import functional as F
from torch.nn.parameter import is_lazy

from dtc import align
from dtc._plugins import (
    check_loaded,
    class_hash,
    hash_ordered,
    import_object,
    is_own,
    own_source_hash,
    plugin_hash,
    run_seed_arguments,
)
from dtc._torch_state import cpu_kernels
from dtc._validation import SEED_MAX, check_bool, float_array, is_finite_number, user_path
from dtc._warnings import warn
from dtc.align.base import check_loss_value
from dtc.align.grl import dann_schedule
from dtc.align.kernels import median_sq_dist
from dtc.align.mmd import MMDLoss
from dtc.cluster.dec import (
    ClusteringLayer,
    dec_loss,
    label_change_fraction,
    soft_assignment,
    target_distribution,
)
from dtc.cluster.gmm import gmm
from dtc.cluster.kmeans import kmeans, squared_differences, warn_if_fewer_clusters
from dtc.cluster.label_spreading import label_spreading
from dtc.cluster.select_k import select_k_silhouette
from dtc.cluster.spectral import KNN_NEIGHBOURS, spectral_clustering
from dtc.data.domain import DomainPair
from dtc.data.preprocessing import floored_std, size_normalize_images, zscore_columns
from dtc.methods import TransferClusterer
from dtc.monitor.base import Callback
from dtc.monitor.negative_transfer import NegativeTransferMonitor
from dtc.nn.autoencoder import _image_chw, build_autoencoder, check_architecture
from dtc.nn.fingerprint import class_code, module_fingerprint, setting_text
from dtc.nn.training import (
    as_tensor,
    check_device,
    check_embedding,
    check_finite,
    check_float32,
    deterministic,
    embed,
    make_generator,
    pretrain_autoencoder,
    progress_bar,
    read_checkpoint,
    resolve_device,
    rng_devices,
    save_checkpoint,
    seed_rngs,
)
from dtc.self_training import has_direction, pseudo_labels, unit_rows

__all__ = ["DTC", "FAMILY_CONFIGS", "family_config"]

PRETRAIN_ON = ("source", "both", "target")
ENCODER_MODES = ("shared", "asymmetric")
LAM_SCHEDULES = ("constant", "dann")
CLUSTERERS = ("kmeans", "spectral", "gmm")
REFINES = (None, "dec", "idec")
FINAL_LABELS = ("cluster", "head", "head_clusters", "head_spread")
# Parameters not hashed as given. Callbacks do change what follows pretraining (they damp,
# stop or roll back adaptation) but their state cannot be hashed: with callbacks only the
# pretraining checkpoint is shared. ``device`` and ``n_threads`` enter the key resolved
# (see ``_checkpoint_key``).
_NOT_HASHED = ("verbose", "callbacks", "checkpoint_dir", "n_threads", "device")
# Stages that callbacks never touch (see ``_ckpt``).
_CALLBACK_FREE_STAGES = ("pretrain",)
# Bumped when the meaning of a checkpoint changes (2: source classes coded 0..k-1; 3: the
# sliced Wasserstein loss keeps its call count in its state; 4: the global torch RNG state,
# which dropout draws from, is saved and restored; 5: a loss's parameters drawn from a
# stream of their own, so the networks' initial weights no longer depend on the loss;
# 6: an unlabelled conditional loss's cluster numbering is carried through the stages;
# 7: the key holds the source of dtc's own code, :func:`dtc._plugins.own_source_hash`: an
# edit that changed what a stage computes without a bump, unlabelled spherical
# self-training's, resumed format-6 checkpoints of the old code, 0.5595 where the code
# computed 0.5640).
_CHECKPOINT_FORMAT = 7
_INT64_MAX = 2**63 - 1
_DISCREPANCY_SAMPLES = 256


# One documented default per benchmark family and setting (no per-pair tuning), used by
# scripts/dtc_benchmark.py and the experiment configs. How they were chosen: on the
# embedded digits default only (seed 0, shift 0.5; about twenty runs, target accuracy of
# that development pair only), then applied unchanged to every family: the same
# configuration for all four families. Per-domain z-scoring inside DTC
# (``standardize``) replaces a per-family preprocessing choice.
# ``labelled``: the DTC defaults -- autoencoder on both domains with a supervised head
# (weight 0.3), CORAL in the latent space, 5 rounds x 4 epochs of self-training on
# class-balanced confident pseudo-labels from spherical K-means started at the source
# class means; final labels = argmax of the classifier head over the source classes
# (``final_labels="head"``, chosen on source validation: 20 % of each labelled source
# held out, no target labels; see the parameter's docstring) until the third session,
# which made them head-named spectral clusters and floored the z-scoring (below). Tried
# and not adopted in the second session:
# ``final_labels="head_clusters"`` (spectral clusters of the adapted target named by the
# head's votes) won on the digits development pair (85.6 % vs 83.4 %, seeds 0-2) but did
# not carry over (3 seeds, Hungarian ACC: COIL 76.4 vs 89.7, SURF 53.3 vs 52.0, MNIST<->USPS
# 59.4 vs 56.8; accuracy with the source names: SURF 49.2 vs 48.4, MNIST<->USPS 46.0 vs
# 48.4), so the pre-registered default stayed; spectral pseudo-labels during
# self-training instead of anchored K-means: 79.6 % on digits, not adopted. Rejected: the small
# convolutional autoencoder (digits default, 3 seeds: 80.0 vs 83.4 %). Third session: the
# z-scoring's standard deviations floored at the median feature's (``std_floor_quantile=0.5``),
# digits seeds 0-4: 86.0 vs 83.4 % (seeds 0-2: 85.7; dividing by one global std instead:
# 84.5), adopted before any benchmark was run with it; in the unlabelled setting it gave
# 71.7 vs 72.4 % (global std: 73.8, seeds 0-2, spread 68-77), so plain z-scoring stays there.
# On the benchmarks (3 seeds, Hungarian ACC, floor vs plain): MNIST->USPS 65.9 vs 64.0,
# USPS->MNIST 52.9 vs 49.6, SURF unchanged (already z-scored), COIL 84.3 / 84.9 vs
# 90.3 / 89.1. A per-family check with the families' own *source* labels
# (scripts/source_split_dev.py: each source split in halves, one half shifted as the
# target; rule fixed before running it) chose the floor for both image families (MNIST-USPS
# 86.9 vs 85.7, COIL 89.6 vs 85.4), so it stays everywhere: COIL's drop is not visible
# from its source.
# Then, by a rule fixed before running (a candidate replaces the default only if it beats
# it on the digits pair and on the source-split pairs of both image families, seeds 0-2),
# four candidates: pretrain_on="source" (digits 85.7 = default, no), lam=2.0 (86.1 / 87.0 /
# 90.3 vs 85.7 / 86.9 / 89.6, qualifies), head-named spectral clusters (88.1 / 89.8 / 90.0,
# qualifies, best mean): ``clusterer="spectral", final_labels="head_clusters"`` became the
# default. On the benchmarks afterwards (Hungarian, accuracy with source names in brackets):
# digits 88.1 vs 85.7, SURF 53.3 (48.9) vs 51.8 (48.1), MNIST->USPS 68.1 (66.2) vs 65.9 (64.7),
# USPS->MNIST 56.4 (43.2) vs 52.9 (42.1), but COIL 75.8 (70.1) / 64.3 (58.6) vs 84.3 / 84.9:
# the second time head-named spectral clusters fail on COIL (see the first trial above), and
# the development pairs, COIL's own source split included, do not show it. Kept, because
# reverting on benchmark figures would choose the default with target labels.
_BUDGET = {"pretrain_epochs": 20, "adapt_epochs": 15, "batch_size": 64}
_SETTINGS = {
    "labelled": {
        **_BUDGET,
        "use_source_labels": True,
        "pretrain_on": "both",
        "loss": "coral",
        "lam": 1.0,
        "sup_weight": 0.3,
        "self_training_rounds": 5,
        "self_training_epochs": 4,
        "pseudo_label_confidence": 0.5,
        "spherical": True,
        "clusterer": "spectral",
        "final_labels": "head_clusters",
        "std_floor_quantile": 0.5,
    },
    "unlabelled": {
        **_BUDGET,
        "use_source_labels": False,
        "n_latent": 10,
        "pretrain_on": "both",
        "loss": "coral",
        "lam": 1.0,
        "self_training_rounds": 0,
        "spherical": False,
        "clusterer": "spectral",
        "std_floor_quantile": None,
    },
}
FAMILY_CONFIGS: dict[str, dict] = {
    family: {"preprocess": "standard", **copy.deepcopy(_SETTINGS)}
    for family in ("digits", "office_caltech10_surf", "mnist_usps", "coil20")
}
# Fourth session: COIL's development pair became a *pose* split of each COIL source domain
# (scripts/source_split_dev.py --split pose: per object, the first half of each arc of
# poses as source, the second half as target), which mirrors how COIL1 / COIL2 were built;
# the stratified split interleaves poses and is easier than the real pair. On it the
# defaults above lose as they do on the real pair (head-named spectral clusters 72.2 vs
# the head's argmax 86.2; the std floor 86.2 vs 88.1 without it). By a rule fixed before
# running the candidates (COIL chosen alone, best mean Hungarian ACC over both domains,
# seeds 0-2, among six: the default, head argmax with and without the floor, head-named
# K-means clusters, label spreading of the head's probabilities with and without the
# floor) COIL's labelled default became label spreading without the floor (89.1).
FAMILY_CONFIGS["coil20"]["labelled"].update(final_labels="head_spread", std_floor_quantile=None)
# MNIST-USPS, same session, each by a rule fixed before running it, on its stratified
# source-split pairs (seeds 0-2, Hungarian ACC): ten candidates against the default (89.8):
# lam=2.0 89.7, loss mmd 77.6 / dann 71.1 / cdan 76.3, the convolutional autoencoder 88.8,
# 40 + 30 epochs 89.5, 10 self-training rounds 89.6, head_spread 88.9, sup_weight=1.0 89.7;
# none beat it by the required 0.5, so it stays. Per-image size normalisation
# (``size_normalize``; motivated by the data README: MNIST digits are small and centred,
# USPS digits fill the frame) had to be within 1 point of the default there: 76.2 / 72.0
# (two box rules) labelled and 63.8 / 45.3 vs 65.7 unlabelled, rejected -- the development
# target's synthetic noise spreads the ink box, so this protocol cannot judge it.
# The unlabelled defaults, same session, per family by a rule fixed before running it (best
# mean Hungarian ACC on the family's development pairs -- digits: the embedded pair;
# MNIST-USPS: stratified source split; COIL: pose split; seeds 0-2 -- among eight candidates,
# adopted if >= 0.5 above the default): digits pretrains on the target alone (73.2 vs 72.4),
# MNIST-USPS floors the z-scoring (69.0 vs 65.7), COIL clusters with K-means (68.5 vs 67.7).
# Target-only spectral clustering scored 76.3 / 69.1 / 71.5 on the same development targets:
# no candidate reached it.
FAMILY_CONFIGS["digits"]["unlabelled"].update(pretrain_on="target")
FAMILY_CONFIGS["mnist_usps"]["unlabelled"].update(std_floor_quantile=0.5)
FAMILY_CONFIGS["coil20"]["unlabelled"].update(clusterer="kmeans")


def family_config(benchmark: str, setting: str = "labelled") -> dict:
    """DTC parameters of the default for ``benchmark``'s family in ``setting``
    (``"labelled"`` or ``"unlabelled"``); a fresh dict the caller may update."""
    if benchmark not in FAMILY_CONFIGS:
        raise ValueError(
            f"family_config: unknown benchmark {benchmark!r}; known: {sorted(FAMILY_CONFIGS)}"
        )
    if setting not in _SETTINGS:
        raise ValueError(
            f"family_config: setting must be one of {sorted(_SETTINGS)}, got {setting!r}"
        )
    return copy.deepcopy(FAMILY_CONFIGS[benchmark][setting])


def _nested(value, depth: int = 0):
    """``value`` and, through dicts (their values), lists and tuples, what it holds (four
    levels deep): the objects a checkpoint key hashes beyond their repr."""
    yield value
    if depth < 4 and isinstance(value, (dict, list, tuple)):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _nested(item, depth + 1)


def _param_text(value, depth: int = 0) -> str:
    """``repr(value)`` for the checkpoint key, but a parameter holding a tensor, an array or
    a set (also inside a dict, list or tuple) item by item: arrays by :func:`setting_text`,
    numpy scalars by dtype and value, sets in sorted order. Their reprs follow the process's
    print options (``torch.set_printoptions(precision=2)`` gave another key, and the fit
    never resumed) and its string hashes (``PYTHONHASHSEED``)."""
    arrays = (torch.Tensor, np.ndarray)
    if (
        depth == 0
        and not hash_ordered(value)
        and not any(isinstance(x, arrays) for x in _nested(value))
    ):
        return repr(value)  # the key of every parameter without arrays or sets, as before
    if depth >= 4 or isinstance(value, (torch.Tensor, np.ndarray)):
        return setting_text(value)
    if isinstance(value, np.generic):  # its repr follows numpy's print options (legacy=)
        return f"{value.dtype}:{value.item()!r}"
    if isinstance(value, (set, frozenset)) and hash_ordered(value):
        # its order follows the strings' hashes (PYTHONHASHSEED)
        return "{" + ", ".join(sorted(_param_text(v, depth + 1) for v in value)) + "}"
    if isinstance(value, dict):
        pairs = value.items()
        items = (f"{_param_text(k, depth + 1)}: {_param_text(v, depth + 1)}" for k, v in pairs)
        return "{" + ", ".join(items) + "}"
    if isinstance(value, (list, tuple)):
        text = ", ".join(_param_text(v, depth + 1) for v in value)
        return f"{type(value).__name__}[{text}]"
    return repr(value)


def _class_means(Z: np.ndarray, labels: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """``(k, d)`` means of the rows of ``Z`` per label; ``fallback[c]`` for an empty label."""
    return np.stack(
        [
            Z[labels == c].mean(0) if (labels == c).any() else fallback[c]
            for c in range(len(fallback))
        ]
    )


def _read_only(pair: DomainPair) -> DomainPair:
    """``pair`` with read-only views of its arrays (the same memory, no copy). Shallow
    copies, set past the dataclasses' validation: a Domain copies an array it is given
    that another holds, which would cost a copy of both domains."""

    def with_views(obj, fields):
        out = copy.copy(obj)
        for field in fields:
            value = getattr(obj, field)
            if isinstance(value, np.ndarray):
                value = value.view()
                value.setflags(write=False)
            object.__setattr__(out, field, value)
        return out

    out = with_views(pair, ())
    for side in ("source", "target"):
        object.__setattr__(out, side, with_views(getattr(pair, side), ("X", "y")))
    return out


def _epoch_means(sums: dict[str, list]) -> dict[str, float]:
    """Each loss's mean over the rows of the batches that computed it (``sums``: name ->
    ``[total, rows]``, see :meth:`DTC._step`). A skipped term must not count as zeros in
    its mean: the alignment loss on batches whose weight is 0 (the first batch of a
    DANN-ramped adaptation), the pseudo-label loss on batches with no kept row."""
    return {name: total / n for name, (total, n) in sums.items()}


def _renumbering(
    labels: np.ndarray, reference: np.ndarray, k: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """``(k,)`` permutation ``perm``: cluster ``c`` of ``labels`` is cluster ``perm[c]`` of
    ``reference`` (both ``(n,)`` in ``[0, k)``), the one-to-one matching that shares the
    most rows (Hungarian algorithm). ``weights`` ``(n, k)``, optional: each row's weights
    (in ``[0, 1]``, summing to at most 1) over the reference's clusters, which break ties
    between matchings that share as many rows: of those, the one with the most weight."""
    labels = np.asarray(labels)
    votes = np.zeros((k, k))
    np.add.at(votes, (labels, np.asarray(reference)), 1.0)
    if weights is not None:
        # Without it, tied matchings were broken by the clusters' index order: a cluster
        # the head gives no vote was named by where the clusterer numbered it (under
        # head_clusters, model_transfer's renumbering then changed 29 % of the names of one
        # partition). A matching's weight is at most n, so scaled by 1 / (n + 1) it never
        # outweighs one shared row.
        extra = np.zeros((k, k))
        np.add.at(extra, labels, np.asarray(weights, dtype=np.float64))
        votes += extra / (len(labels) + 1)
    rows, cols = linear_sum_assignment(-votes)
    perm = np.empty(k, dtype=np.int64)
    perm[rows] = cols
    return perm


def _same_weights(a: dict, b: dict) -> bool:
    """Whether the state dicts ``a`` and ``b`` hold the same tensors (NaN equal to NaN: a
    shared encoder's snapshot whose weights went NaN is still one encoder's); entries that
    are no tensors, or lazy ones, are not compared."""
    for key, x in a.items():
        y = b.get(key)
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            continue
        if is_lazy(x) or is_lazy(y):
            continue
        if x.shape != y.shape:
            return False
        if torch.equal(x, y):
            continue
        if not x.is_floating_point():
            return False
        nan = x.isnan()
        if not torch.equal(nan, y.isnan()) or not torch.equal(x[~nan], y[~nan]):
            return False
    return True


def _is_method(cls: type, name: str) -> bool:
    """Whether ``cls`` defines ``name`` as something called like a method (a function, a
    static, class, partial or single-dispatch method, a callable object such as a cached
    function), not as a field (annotated, or holding a class) or a property."""
    for c in cls.__mro__:  # down to the class that defines it: a base's field is no excuse
        try:
            annotated = name in inspect.get_annotations(c)
        except (TypeError, ValueError, NameError):  # not a dict; unresolvable (3.14+)
            annotated = False
        if annotated:
            return False  # a field, whatever its default holds (an exception class, a function)
        if name in vars(c):
            break
    attr = inspect.getattr_static(cls, name)
    methods = (
        staticmethod,
        classmethod,
        functools.partialmethod,
        functools.singledispatchmethod,
    )
    if isinstance(attr, methods):
        return True
    fields = (type, property, functools.cached_property)
    return callable(attr) and not isinstance(attr, fields)


def _select_k(X, seed: int) -> int:
    """k by the best K-means silhouette over 2..10 (fewer for tiny targets)."""
    k_max = min(10, len(X) - 1)
    if k_max < 2:
        raise ValueError(
            f"DTC: cannot estimate n_clusters from {len(X)} target samples (the silhouette "
            "needs at least 3); pass n_clusters"
        )
    return int(select_k_silhouette(X, range(2, k_max + 1), seed=seed)[0])


def _graph_neighbours(n: int) -> int:
    """Neighbours per point of a kNN graph (spectral clustering, label spreading) on ``n``
    target rows: dtc.cluster's default ``KNN_NEIGHBOURS``, so larger targets get the graph
    they always had, or ``n - 1`` (the complete graph) on a target of at most that many
    rows, where no point has that many neighbours."""
    return min(KNN_NEIGHBOURS, n - 1)


def _signature(fn) -> inspect.Signature | None:
    """How ``fn`` is called; ``None`` when that cannot be read (a builtin). For a loss
    class: its ``__init__``'s, with none for ``nn.Module``'s own, which reads
    ``(*args, **kwargs)`` but takes no argument."""
    if isinstance(fn, type) and fn.__init__ is nn.Module.__init__:
        return inspect.Signature()
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _plain_state(module: nn.Module) -> dict:
    """The plain values (bool, int, float, str) that a module and its submodules keep as
    public attributes: state that ``state_dict`` (checkpoints, snapshots) does not hold."""
    return {
        f"{prefix}.{k}" if prefix else k: v
        for prefix, sub in module.named_modules()
        for k, v in vars(sub).items()
        if not k.startswith("_") and k != "training" and isinstance(v, (bool, int, float, str))
    }


def _is_nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _none_buffers(module: nn.Module) -> set[str]:
    """The state-dict keys of ``module``'s buffers that are registered as None now."""
    return {
        f"{sub}.{buf}" if sub else buf
        # under every name a shared submodule has, as the state dict lists its buffers
        for sub, owner in module.named_modules(remove_duplicate=False)
        for buf, value in owner._buffers.items()
        if value is None
    }


def _has_submodule(module: nn.Module, path: str) -> bool:
    """Whether ``module.get_submodule(path)`` names a module (``""``: ``module`` itself)."""
    try:
        module.get_submodule(path)
    except AttributeError:
        return False
    return True


def _takes(fn, *args, **kwargs) -> bool:
    """Whether ``fn``'s signature (:func:`_signature`) accepts ``args`` and ``kwargs``
    (``True`` when it cannot be read: the call itself is then the only judge)."""
    signature = _signature(fn)
    try:
        if signature is not None:
            signature.bind(*args, **kwargs)
    except TypeError:
        return False
    return True


class DTC(TransferClusterer):
    """Deep transfer clustering (see the module docstring for the four stages).

    The defaults are the documented ``labelled`` configuration of :data:`FAMILY_CONFIGS`
    (chosen on the embedded digits default): ``DTC().fit(make_digits_pair())`` gives
    88.2 % accuracy without matching (target-only K-means: 70.9 %) in about 6 s on an AMD
    EPYC (fifty-fourth session; ``make demo`` prints it too). Earlier sessions' machines
    gave 88.8 % and 88.3 %: torch's float reductions round otherwise by CPU, and the code
    has moved since (README, "DTC").

    Parameters
    ----------
    n_clusters : int or None
        Number of target clusters; ``None``: the pair's ``n_clusters``, else the number
        of source classes with a labelled source (``use_source_labels``), else estimated
        by the best K-means silhouette over k = 2 to 10 (``dtc.cluster.select_k_silhouette``;
        at most 10) on the adapted target embeddings; but where the
        training needs ``k`` from its start (an unlabelled source with self-training or a
        class-conditional loss), on the target's preprocessed input features, before any
        training.
    architecture : "mlp", "dec", "small", "conv" or nn.Module
        The autoencoder (see :func:`dtc.nn.build_autoencoder`): an MLP (``hidden``,
        ``n_latent``; default d-256-128-32), the DEC/IDEC preset d-500-500-2000-10, a
        small convolutional network for image rows (``Domain.image_shape``), or a user
        encoder ``(n, d) -> (n, k)`` (an MLP decoder is added).
    hidden, n_latent : MLP widths and embedding width (``None``: the preset's). ``hidden``
        applies to the MLP architectures only (``"conv"`` or a module with it is refused);
        ``n_latent`` to the MLPs and ``"conv"``: a module fixes its own (a family default's
        ``n_latent`` is then left unused).
    size_normalize : bool
        Scale every image's ink bounding box to fill the frame, in both domains, before
        anything else (:func:`dtc.data.preprocessing.size_normalize_images`; default
        ``False``; needs domains with a 2-D ``image_shape``): the size normalisation USPS
        and MNIST were built with, which removes a difference of digit size between two
        digit domains. Not a default anywhere: rejected on MNIST-USPS's development pairs,
        whose synthetic noise spreads the ink box (``FAMILY_CONFIGS``).
    standardize : bool
        z-score every feature within each domain before training (default ``True``): a
        first-order alignment that also puts raw pixels and counts on one scale.
    std_floor_quantile : float in [0, 1] or None
        With ``standardize``, divide each feature by its standard deviation floored at
        this quantile of the domain's non-zero feature standard deviations
        (:func:`dtc.data.preprocessing.floored_std`; default 0.5, the median), so that
        nearly constant features (border pixels) are not inflated to unit variance;
        ``None``: plain z-scoring. Chosen on the digits development pair (labelled
        source, 5 seeds: 86.0 vs 83.4 % ACC).
    pretrain_on : {"source", "both", "target"}
        Reconstruct the source only, source and target, or the target only (the target's
        features, never its labels); with ``"target"`` a supervised head still trains on
        the source labels (those rows are not reconstructed). ``"target"`` needs one
        feature space (not a heterogeneous pair); on a heterogeneous pair each network
        pretrains on its own domain, so ``"source"`` and ``"both"`` are the same fit.
    pretrain_epochs, adapt_epochs, refine_epochs : int
        Epochs of the stages (``refine_epochs`` is a cap: refinement stops on ``tol``).
    noise, mask : float
        Denoising corruption in pretraining: Gaussian std, probability of each input
        being zeroed (:func:`dtc.nn.training.corrupt`).
    use_source_labels : bool
        Use ``pair.source.y`` (supervised head in pretraining and adaptation, class-
        conditional alignment, class means for model transfer). ``False``: no labels are
        used anywhere.
    sup_weight : float
        Weight of the source cross-entropy.
    loss : str, nn.Module or None
        Alignment loss: a name of :func:`dtc.align.available` (default ``"coral"``), a
        ``"module:Class"`` string, or a module called as ``loss(zs, zt, **context)``.
        ``None``: no alignment (the source-only ablation).
    loss_params : dict or None
        Keyword arguments of the loss (by name only). A loss that takes a ``seed`` (the
        sliced Wasserstein projections, CDAN's randomized map) gets the fit's ``seed``
        unless these give one, so that a sweep's seeds vary its draws too; not one whose
        ``seed`` defaults to ``None`` (the loss's own choice, left to it).
    lam : float
        Alignment weight lambda; ``lam_schedule`` (default ``"dann"``) ramps it up as
        ``2 / (1 + exp(-10 p)) - 1`` over adaptation progress ``p`` (the fraction of
        adaptation batches done); ``"constant"`` keeps it. An adversarial loss whose
        gradient reversal ramps on DANN's schedule (``dann``, ``cdan`` by default; any
        submodule with a ``coefficient`` method and ``schedule == "dann"``, as
        :class:`dtc.align.grl.GradientReversal`) is not ramped twice: its weight stays ``lam``
        and its reversal coefficient ramps, as in Ganin et al. (JMLR 2016). That ramp is the
        loss's own parameter, which ``lam_schedule`` does not reach: under ``"constant"`` the
        reversal of ``dann`` / ``cdan`` still ramps; ``loss_params={"schedule": "constant"}``
        holds it at ``max_coeff``.
    recon_weight : float
        Weight of the reconstruction loss during adaptation.
    encoder_mode : {"shared", "asymmetric"}
        One encoder for both domains, or a frozen source encoder and a target encoder
        (ADDA's arrangement, trained by the chosen loss: see the module docstring); only
        ``"asymmetric"`` accepts heterogeneous pairs.
    freeze_layers : int
        Freeze the first ``k`` blocks of the (target) encoder from adaptation on: they
        stay frozen in every later stage that trains the encoder (self-training,
        refinement). Freezing every block leaves the encoder as pretrained.
    pretrained_lr_scale : float
        Learning-rate multiplier of the pretrained encoder during adaptation, self-training
        and refinement.
    self_training_rounds, self_training_epochs : int
        Iterative self-training between adaptation and clustering (stage ``self_train``,
        :mod:`dtc.self_training`; 0 rounds: off): each round pseudo-labels the target by
        K-means started at the source class means (labelled source; else at the previous
        round's target centres, first from ``clusterer``), keeps the
        ``pseudo_label_confidence`` most confident fraction of every cluster, and trains
        encoder and head for ``self_training_epochs`` epochs on source labels + kept
        pseudo-labels (weight ``pseudo_weight``) + reconstruction + alignment. Without
        source labels a separate head learns the cluster indices.
    pseudo_label_confidence : float in (0, 1]
    pseudo_weight : float
    spherical : bool
        Cosine geometry (spherical K-means, Dhillon & Modha, Machine Learning 2001) for
        the pseudo-labels and for the final clustering (embeddings L2-normalised).
    clusterer : {"spectral", "kmeans", "gmm"}
        Spectral clustering on a sparse kNN graph (default), K-means, or a GMM.
    model_transfer : bool
        Initialise target centres from the source (class means with labels, else source
        K-means centres) and name clusters by source classes when labelled. Centres start
        K-means and GMM; spectral clustering (the default clusterer) takes none, so there
        it only names the clusters (and under ``final_labels="head_clusters"`` the head
        names them: no effect).
    final_labels : {"head_clusters", "head", "head_spread", "cluster"}
        With a labelled source: ``"head_clusters"`` (default) keeps the clusterer's
        partition of the target and names each cluster one-to-one after the source class
        the head predicts most often in it (maximum-agreement matching), so the clusters
        follow the target's own structure and their names come from the head; ``"head"``
        labels every target point by the argmax of the classifier head (trained on source
        labels and, with self-training, target pseudo-labels); ``"cluster"``
        keeps the clusterer's partition named after the nearest source class means (with
        ``model_transfer``), which can drift to another class's points. In every case
        cluster ``c`` = source class ``cluster_classes_[c]``. On source validation (20 %
        of the source held out, 12 fits: 5 pairs' sources and the digits default) the
        head named held-out source rows correctly 83.6 % vs 82.3 % for the nearest class
        mean; on the digits target (seeds 0-2) 83.4 % (``"head"``), 83.4 %
        (``"cluster"``), 85.6 % (``"head_clusters"`` with ``clusterer="spectral"``); with
        the std floor 85.7 vs 88.1 %. The default since the third session; on COIL it
        loses to ``"head"``, see ``FAMILY_CONFIGS``. ``"head_spread"``: the head's
        probabilities spread over the kNN graph of the target embedding (label spreading,
        Zhou et al., NIPS 2003; :mod:`dtc.cluster.label_spreading`, weight
        ``spread_alpha`` of the graph), then the argmax: the head's classes, smoothed
        along the target's neighbourhoods without a hard partition.
        Without source labels: ignored (the clusterer's labels).
    spread_alpha : float in [0, 1)
        Graph weight of ``final_labels="head_spread"`` (0: the head's argmax).
    refine : {None, "dec", "idec"}
        Self-training refinement; ``idec_gamma`` weighs IDEC's clustering (KL) term
        against the reconstruction (``recon + idec_gamma * kl``, Guo et al., IJCAI 2017;
        with ``encoder_mode="shared"``, ``recon`` is the mean of the target's and the
        source's reconstruction errors, as in adaptation, so the source's structure is
        kept too and the target's weighs half of what it does in IDEC),
        ``update_interval`` (default 1) the epochs between target-distribution updates,
        ``tol`` (default 0.001) the fraction of changed labels below which it stops;
        ``idec_gamma`` defaults to 0.1. Refinement trains with DTC's Adam (``lr``, the
        encoder's scaled by ``pretrained_lr_scale``), not the papers' SGD (lr 0.01,
        momentum 0.9) that the DEC / IDEC baselines use: a deviation, kept because SGD at
        that rate barely moved DTC's adapted embedding before ``tol`` stopped it. The
        labels are then DEC's
        assignments (argmax of ``q``) to the refined centres, in place of those
        ``final_labels`` gave; with ``refine_epochs=0`` the assignments to the centres the
        clustering stage left in ``cluster_centers_`` (the means of the clusters
        ``final_labels`` gave: of the head's classes with ``"head"``), so 0 epochs is the
        same as ``refine=None`` only where those labels are their centres' nearest-centre
        partition (``clusterer="kmeans"`` with ``"cluster"`` or ``"head_clusters"``), not
        with spectral clusters or the head's labels.
    lr, batch_size, weight_decay : optimisation (Adam).
    device : "cpu", "cuda", "auto"
        Default ``"cpu"``.
    n_threads : int or None
        Torch CPU threads during fit (None: keep the process's). Default 1: the networks
        are small, and on a loaded 2-core machine
        the embedded default took 9 s of CPU with one thread and over 80 s (still running
        after 5 min) with torch's default two.
    seed : int
        Fixes weights, batch order and clustering: equal seeds give equal labels (CPU).
    checkpoint_dir : path or None
        Write a checkpoint after each stage and resume finished stages on a re-fit with the
        same parameters and data on the same device type (keyed by a hash of both and, off
        the CPU, the device type; weights and plain attributes of
        module parameters included, e.g. an MMDLoss's median mode, which its repr does not
        show; a lazily sized module not yet called counts by its parameter names). With ``callbacks`` only pretraining is checkpointed: a callback may
        steer every later stage, and its state is not part of the key.
    callbacks : sequence of :class:`dtc.monitor.base.Callback`
    verbose : int
        0 silent; 1 progress bars (on a terminal).

    Attributes
    ----------
    labels_ : (n_target,) int
    embedding_ : (n_target, k) float32 target embeddings (after refinement)
    source_embedding_ : (n_source, k) float32 source embeddings
    cluster_centers_ : (n_clusters, k) in the clustering space (the embedding's rows
        scaled to unit length when ``spherical``)
    cluster_classes_ : (n_clusters,) int, only when clusters are named by source classes
    n_clusters_ : int
    history_ : list of dicts, one per epoch: ``stage``, ``epoch`` and that stage's losses
        (``recon``, ``sup``, ``align``, ``pseudo``, ``kl``: those it computes, each a mean
        over the rows of the epoch's batches); adaptation also logs ``lambda`` and
        ``discrepancy`` (the source-target MMD), self-training ``lambda``, ``round``,
        ``changed`` and ``kept``, refinement ``discrepancy`` and ``changed``. Two entries
        are no epochs: the check that stopped refinement (``changed`` below ``tol``, with
        ``stopped: True``, at the epoch that did not run) and a negative-transfer
        monitor's closing entry (``stage: "monitor"``)
    autoencoder_, source_autoencoder_ : the trained target / source autoencoders
    target_mean_, target_std_ : (d_target,) float64 statistics of DTC's own z-scoring of
        the target (``None`` when ``standardize=False``); see :meth:`transform_target`
    resumed_stages_ : stages loaded from ``checkpoint_dir`` instead of run
    fit_threads_ : torch's thread count during the fit (``n_threads``, or the process's)
    transfer_scale_, stop_training_ : see :mod:`dtc.monitor.base`
    """

    requires_source_labels = False

    def __init__(
        self,
        n_clusters: int | None = None,
        *,
        architecture="mlp",
        hidden: Sequence[int] | None = None,
        n_latent: int | None = None,
        size_normalize: bool = False,
        standardize: bool = True,
        std_floor_quantile: float | None = 0.5,
        pretrain_on: str = "both",
        pretrain_epochs: int = 20,
        noise: float = 0.0,
        mask: float = 0.0,
        use_source_labels: bool = True,
        sup_weight: float = 0.3,
        loss="coral",
        loss_params: dict | None = None,
        lam: float = 1.0,
        lam_schedule: str = "dann",
        adapt_epochs: int = 15,
        recon_weight: float = 1.0,
        encoder_mode: str = "shared",
        freeze_layers: int = 0,
        pretrained_lr_scale: float = 1.0,
        self_training_rounds: int = 5,
        self_training_epochs: int = 4,
        pseudo_label_confidence: float = 0.5,
        pseudo_weight: float = 1.0,
        spherical: bool = True,
        clusterer: str = "spectral",
        model_transfer: bool = True,
        final_labels: str = "head_clusters",
        spread_alpha: float = 0.9,
        refine: str | None = None,
        refine_epochs: int = 30,
        idec_gamma: float = 0.1,
        update_interval: int = 1,
        tol: float = 0.001,
        lr: float = 1e-3,
        batch_size: int = 64,
        weight_decay: float = 0.0,
        device: str = "cpu",
        n_threads: int | None = 1,
        seed: int = 0,
        checkpoint_dir=None,
        callbacks: Sequence[Callback] = (),
        verbose: int = 0,
    ):
        self.n_clusters = n_clusters
        self.architecture = architecture
        self.hidden = hidden
        self.n_latent = n_latent
        self.size_normalize = size_normalize
        self.standardize = standardize
        self.std_floor_quantile = std_floor_quantile
        self.pretrain_on = pretrain_on
        self.pretrain_epochs = pretrain_epochs
        self.noise = noise
        self.mask = mask
        self.use_source_labels = use_source_labels
        self.sup_weight = sup_weight
        self.loss = loss
        self.loss_params = loss_params
        self.lam = lam
        self.lam_schedule = lam_schedule
        self.adapt_epochs = adapt_epochs
        self.recon_weight = recon_weight
        self.encoder_mode = encoder_mode
        self.freeze_layers = freeze_layers
        self.pretrained_lr_scale = pretrained_lr_scale
        self.self_training_rounds = self_training_rounds
        self.self_training_epochs = self_training_epochs
        self.pseudo_label_confidence = pseudo_label_confidence
        self.pseudo_weight = pseudo_weight
        self.spherical = spherical
        self.clusterer = clusterer
        self.model_transfer = model_transfer
        self.final_labels = final_labels
        self.spread_alpha = spread_alpha
        self.refine = refine
        self.refine_epochs = refine_epochs
        self.idec_gamma = idec_gamma
        self.update_interval = update_interval
        self.tol = tol
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.device = device
        self.n_threads = n_threads
        self.seed = seed
        self.checkpoint_dir = checkpoint_dir
        self.callbacks = callbacks
        self.verbose = verbose

    # The asymmetric (ADDA) mode has one encoder per domain, so the domains may have
    # different input widths; the shared mode needs one feature space.
    @property
    def accepts_heterogeneous(self) -> bool:
        """Whether a heterogeneous pair (source and target of different ``d``) is accepted:
        with ``encoder_mode="asymmetric"`` only."""
        return self.encoder_mode == "asymmetric"

    # -- validation -----------------------------------------------------------
    def benchmark_defaults(self, benchmark: str | None, params: dict) -> dict:
        """``FAMILY_CONFIGS`` of ``benchmark``'s family in the setting ``params`` ask for
        (no source labels when ``use_source_labels`` is false there or on ``self``), less the
        epochs and batch size, which stay the run's."""
        if benchmark not in FAMILY_CONFIGS:
            return {}
        labelled = params.get("use_source_labels", self.use_source_labels)
        config = family_config(benchmark, "labelled" if labelled else "unlabelled")
        return {k: v for k, v in config.items() if k not in _BUDGET}

    # What a fit builds besides its fitted attributes: the networks, the loss, the
    # preprocessed data (on the fit's device) and the class codes.
    _FIT_STATE = (
        "_src_ae",
        "_head",
        "_pl_head",
        "_loss",
        "_Xs",
        "_Xt",
        "_ys",
        "_sub",
        "_classes",
        "_numbering",
        "_adapt_centres",
        "_adapting",
        "_key",
        "_lazy_buffers",
    )

    def _forget_fit(self) -> None:
        # A fit that fails, or is refused (a pair, a y), must not leave the last fit's
        # encoder behind: transform_target would encode with it (and without the
        # statistics the failed fit removed). Nor the rest of what it built: a failed fit's
        # networks and both domains' data stayed in (GPU) memory and went with a pickle of
        # an estimator that says it is unfitted.
        super()._forget_fit()
        self._tgt_ae = None
        for name in self._FIT_STATE:
            self.__dict__.pop(name, None)

    def _validate_pair(self, pair: DomainPair) -> DomainPair:
        # The parameters first: a misspelt encoder_mode was reported as a shared one below.
        self._check_params()
        if pair.heterogeneous and self.encoder_mode != "asymmetric":
            raise ValueError(
                f"DTC: the pair is heterogeneous (source d={pair.source.n_features}, target "
                f"d={pair.target.n_features}); encoder_mode={self.encoder_mode!r} shares one "
                "encoder and needs one feature space: use encoder_mode='asymmetric'"
            )
        if self.architecture == "conv" and not pair.heterogeneous:
            # One network, built for the source's image shape (DTC._build), reads the target
            # rows as images of that shape: a target that declares another layout was
            # convolved as the source's without a word. (H, W) and (1, H, W) are one layout.
            # Here, before the data are hashed for the checkpoints or k is estimated.
            s_shape, t_shape = pair.source.image_shape, pair.target.image_shape
            if None not in (s_shape, t_shape) and _image_chw(s_shape) != _image_chw(t_shape):
                raise ValueError(
                    f"DTC: architecture='conv' builds one network for the source's "
                    f"image_shape {pair.source.image_shape} and runs it on the target rows, "
                    f"but the target declares image_shape {pair.target.image_shape}; give both "
                    "domains one image layout, or build the pair with heterogeneous=True (and "
                    "encoder_mode='asymmetric') for a network of the target's own"
                )
        return super()._validate_pair(pair)

    def check_params(self) -> None:
        self._check_params()

    def _check_params(self) -> None:
        # what a config's load can catch (methods.TransferClusterer.check_params), so that a
        # bad value fails there rather than once per run, after training
        self._check_n_clusters()
        check_architecture(self.architecture, method="DTC")

        def choice(name, options):
            if getattr(self, name) not in options:
                raise ValueError(
                    f"DTC: {name} must be one of {options}, got {getattr(self, name)!r}"
                )

        def number(name, low, *, integer=False, strict=False):
            v = getattr(self, name)
            kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
            if (
                isinstance(v, bool)
                or not isinstance(v, kinds)
                # np.isfinite raised a TypeError past 2**64 (an int seed is range-checked
                # below; a float parameter must be one a float holds)
                or not (integer or is_finite_number(v))
                # an int past 64 bits passed, and torch failed on it ("int too big to
                # convert"), some only after pretraining (the seed's own range is checked
                # below, with its own message)
                or (
                    isinstance(v, (int, np.integer)) and abs(int(v)) > _INT64_MAX and name != "seed"
                )
                or (v <= low if strict else v < low)
            ):
                rel = ">" if strict else ">="
                kind = "an int" if integer else "a number"
                raise ValueError(
                    f"DTC: {name} must be {kind} {rel} {low} (and within 64 bits), got {v!r}"
                )

        # device and checkpoint_dir: a bad one let a config load, and every run then failed
        # (device naming no method; checkpoint_dir=0 a bare TypeError, "" wrote into ".")
        check_device(self.device, "DTC")
        ck = self.checkpoint_dir
        if ck is not None and (not isinstance(ck, (str, os.PathLike)) or str(ck) == ""):
            raise ValueError(
                f"DTC: checkpoint_dir must be None or a non-empty path (str or os.PathLike), "
                f"got {ck!r}"
            )
        if ck is not None:
            # refused here, not by mkdir after the whole pretraining (FileExistsError, or
            # NotADirectoryError for a folder below a file)
            folder = user_path(ck)
            existing = next(p for p in (folder, *folder.parents) if p.exists())
            if not existing.is_dir():
                raise ValueError(
                    f"DTC: checkpoint_dir {str(ck)!r}: {str(existing)!r} exists and is not a folder"
                )
        choice("pretrain_on", PRETRAIN_ON)
        choice("encoder_mode", ENCODER_MODES)
        choice("lam_schedule", LAM_SCHEDULES)
        choice("clusterer", CLUSTERERS)
        choice("refine", REFINES)
        choice("final_labels", FINAL_LABELS)
        for name in (
            "pretrain_epochs",
            "adapt_epochs",
            "refine_epochs",
            "freeze_layers",
            "seed",
            "self_training_rounds",
            "self_training_epochs",
        ):
            number(name, 0, integer=True)
        if self.seed > SEED_MAX:
            # numpy's and scikit-learn's seeds: a larger one failed in K-means, after training
            raise ValueError(f"DTC: seed must be an int in [0, 2**32 - 1], got {self.seed!r}")
        if self.self_training_rounds > 0 and self.self_training_epochs < 1:
            # a round without an epoch trains nothing, and has no losses to report
            raise ValueError(
                f"DTC: self_training_rounds={self.self_training_rounds} needs "
                f"self_training_epochs >= 1 (epochs per round), got "
                f"{self.self_training_epochs!r}; self_training_rounds=0 turns self-training off"
            )
        number("update_interval", 1, integer=True)
        number("batch_size", 2, integer=True)
        for name in (
            "noise",
            "sup_weight",
            "lam",
            "recon_weight",
            "idec_gamma",
            "tol",
            "pseudo_weight",
        ):
            number(name, 0)
        for name in ("weight_decay", "pretrained_lr_scale"):
            number(name, 0)
        number("lr", 0, strict=True)
        number("mask", 0)
        number("spread_alpha", 0)
        if self.spread_alpha >= 1:
            raise ValueError(f"DTC: spread_alpha must be in [0, 1), got {self.spread_alpha!r}")
        if self.mask >= 1:
            raise ValueError(f"DTC: mask must be in [0, 1), got {self.mask!r}")
        if self.tol > 1:  # a fraction of the target's rows, as DEC's baseline takes it
            raise ValueError(f"DTC: tol is a fraction of samples in [0, 1], got {self.tol!r}")
        number("pseudo_label_confidence", 0, strict=True)
        if self.pseudo_label_confidence > 1:
            raise ValueError(
                "DTC: pseudo_label_confidence must be in (0, 1], got "
                f"{self.pseudo_label_confidence!r}"
            )
        q = self.std_floor_quantile
        if q is not None and (
            isinstance(q, bool) or not isinstance(q, (int, float, np.number)) or not 0 <= q <= 1
        ):
            raise ValueError(f"DTC: std_floor_quantile must be in [0, 1] or None, got {q!r}")
        for name in (
            "use_source_labels",
            "spherical",
            "standardize",
            "size_normalize",
            "model_transfer",
        ):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"DTC: {name} must be True or False, got {getattr(self, name)!r}")
        if self.loss is not None and not isinstance(self.loss, (str, nn.Module)):
            # checked here, not first in the fit: a config's loss: 3 loaded, and every run
            # then failed
            raise ValueError(
                f"DTC: loss must be a registered name, 'module:Class', an nn.Module or None, "
                f"got {self.loss!r}"
            )
        # a bool is no level (True read as 1)
        if (
            isinstance(self.verbose, bool)
            or not isinstance(self.verbose, numbers.Integral)
            or self.verbose < 0
        ):
            raise ValueError(f"DTC: verbose must be an int >= 0, got {self.verbose!r}")
        if self.loss_params is not None and not isinstance(self.loss_params, dict):
            raise ValueError(f"DTC: loss_params must be a dict or None, got {self.loss_params!r}")
        if self.loss_params and not isinstance(self.loss, str):
            got = "loss=None (no alignment)" if self.loss is None else "a module"
            raise ValueError(f"DTC: loss_params apply to a loss given by name; got {got}")
        if isinstance(self.loss, str):
            # checked against the loss's signature without building it: a name that does
            # not fit (a typo, or a grid over losses sharing one loss_params), or a required
            # argument none gives, is refused when a config loads, not in each of its runs
            try:
                cls = align.get_class(self.loss)
            except ValueError as exc:
                raise ValueError(f"DTC: {exc}") from exc
            signature = _signature(cls)
            if signature is not None:  # none to read: the fit checks
                try:
                    signature.bind(**(self.loss_params or {}))
                except TypeError as exc:
                    if not self.loss_params:  # none given: the class needs arguments
                        raise ValueError(
                            f"DTC: loss {self.loss!r} could not be built without parameters: "
                            f"{exc}; give them in loss_params, or give its __init__ defaults "
                            "(a subclass)"
                        ) from exc
                    raise ValueError(
                        f"DTC: loss_params do not fit loss {self.loss!r}: {exc} "
                        f"(its parameters: {', '.join(signature.parameters) or 'none'})"
                    ) from exc
            # a loss taking **params for something it builds (a pytorch-adapt layer)
            # checks them itself, without building it
            # (a class- or staticmethod: a method of the instance named so is the loss's own)
            hook = inspect.getattr_static(cls, "check_loss_params", None)
            if isinstance(hook, (classmethod, staticmethod)):
                try:
                    cls.check_loss_params(self.loss_params or {})
                except ValueError as exc:
                    raise ValueError(f"DTC: loss {self.loss!r}: {exc}") from exc
        if isinstance(self.callbacks, Callback) or not isinstance(self.callbacks, (list, tuple)):
            raise ValueError(
                f"DTC: callbacks must be a list of dtc.monitor.base.Callback instances (one "
                f"callback: [callback]), got {self.callbacks!r}"
            )
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(
                    f"DTC: callbacks must be dtc.monitor.base.Callback instances, got {cb!r}"
                )
            # a misspelt hook (on_epoch_end) is never called: the callback did nothing, and
            # the fit gave no sign of it. Methods only: a field or property may be on_*.
            hooks = [n for n in dir(Callback) if n.startswith("on_")]
            unknown = [
                n
                for n in dir(type(cb))
                if n.startswith("on_") and n not in hooks and _is_method(type(cb), n)
            ]
            if unknown:
                raise ValueError(
                    f"DTC: callback {type(cb).__name__} defines {', '.join(unknown)}, which no "
                    f"stage calls; the hooks are {', '.join(hooks)}"
                )
            cb.check_params()  # e.g. a monitor's policy: refused now, not in on_fit_begin
        monitors = [cb for cb in self.callbacks if isinstance(cb, NegativeTransferMonitor)]
        if len(monitors) > 1:
            # Each writes the fit's verdict (negative_transfer_, transfer_labels_,
            # monitor_trail_): a second one judged the first one's fallback, the reference's
            # own partition, and replaced the transfer partition the first had kept.
            raise ValueError(
                f"DTC: callbacks hold {len(monitors)} NegativeTransferMonitor entries; give "
                "one (its policy may combine actions, e.g. 'adapt+rollback')"
            )
        if self.n_threads is not None:
            number("n_threads", 1, integer=True)
        if self.n_latent is not None:
            number("n_latent", 1, integer=True)
        arch = self.architecture
        if self.hidden is not None and (isinstance(arch, nn.Module) or arch == "conv"):
            # it was ignored: a sweep over hidden with "conv" gave identical rows
            what = "a module" if isinstance(arch, nn.Module) else "'conv'"
            raise ValueError(
                f"DTC: hidden sets the widths of the MLP architectures ('mlp', 'small', 'dec'); "
                f"architecture={what} fixes its own, so hidden must be None, got {self.hidden!r}"
            )
        if self.hidden is not None:
            sizes = list(self.hidden) if isinstance(self.hidden, (list, tuple)) else None
            if sizes is None or not all(
                isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h >= 1
                for h in sizes
            ):
                raise ValueError(
                    f"DTC: hidden must be a list of layer sizes (ints >= 1) or None, "
                    f"got {self.hidden!r}"
                )

    def _make_loss(self) -> nn.Module | None:
        if self.loss is None:
            return None
        if isinstance(self.loss, nn.Module):
            return copy.deepcopy(self.loss)  # a re-fit must start from the same untrained loss
        # a deep copy, as of a loss given as a module: a layer given in loss_params (a
        # pytorch-adapt loss's built layer) was trained in place, and the next fit with the
        # same parameters started from the weights the last one left (118 of 899 labels)
        params = copy.deepcopy(dict(self.loss_params or {}))
        # The fit's seed (swd's projections, cdan's randomized map): at seed 0 the built-in
        # losses' own default, the same loss as before
        with contextlib.suppress(ValueError):  # an unknown name: align.get below names it
            params.update(run_seed_arguments(align.get_class(self.loss), params, int(self.seed)))
        try:
            return align.get(self.loss, **params)
        except TypeError as exc:
            if _takes(align.get_class(self.loss), **params):
                raise  # the arguments fit: the TypeError is the __init__'s own
            if not params:  # none given: the class needs arguments of its own
                raise ValueError(
                    f"DTC: loss {self.loss!r} could not be built without parameters: {exc}; "
                    "give them in loss_params, or give its __init__ defaults (a subclass)"
                ) from exc
            raise ValueError(f"DTC: loss_params do not fit loss {self.loss!r}: {exc}") from exc

    # -- checkpoints ----------------------------------------------------------
    def _user_code(self) -> dict[str, str | None]:
        """The hash of the code of each user's class a parameter names (a loss as
        ``"module:Class"`` or registered by name), by parameter: their names alone left a
        checkpoint of the code before an edit to be loaded. dtc's own classes are not
        hashed here (the key holds dtc's whole source); a module a parameter holds is hashed whole,
        code included, by :func:`dtc.nn.fingerprint.module_fingerprint`."""
        out = {}
        for name, value in self.get_params(deep=False).items():
            if name in _NOT_HASHED:
                continue
            cls = None
            if isinstance(value, str) and ":" in value:
                out[name] = plugin_hash(value)
                check_loaded(value)  # the fit runs the module in memory
                try:
                    cls = import_object(value)
                except ValueError:  # the fit names it
                    continue
            elif name == "loss" and isinstance(value, str):
                try:
                    cls = align.get_class(value)
                except ValueError:  # the fit names it
                    cls = None
                if cls is not None and not is_own(cls.__module__):
                    out[name] = class_hash(cls)
                    check_loaded(f"{cls.__module__}:{cls.__qualname__}", cls)
            if name in out and isinstance(cls, type):
                # and its base classes' code, wherever they are (an edit of a base in
                # another file resumed the fit of the old code)
                code = f"{out[name]} ".encode() + class_code(cls)
                out[name] = hashlib.sha256(code).hexdigest()[:16]
        return out

    def _checkpoint_key(self, pair: DomainPair) -> str:
        """16 hex digits hashing the parameters, module weights and data of this fit."""
        params = {
            k: _param_text(v)
            for k, v in self.get_params(deep=False).items()
            if k not in _NOT_HASHED
        }
        params["_format"] = _CHECKPOINT_FORMAT
        params["_dtc_source"] = own_source_hash()
        if self._device.type != "cpu":
            # Where the fit ran, as resolved (``device`` itself is not hashed: "auto" and
            # "cpu" on a machine without a GPU are one fit): a GPU computes other floating
            # point results. (On the CPU, the thread count and the kernels instead.)
            params["_device"] = self._device.type
        else:
            # The thread count the fit runs on: the float reductions split otherwise, and a
            # checkpoint of a 2-thread fit gave a 1-thread fit the 2-thread result (digits
            # default: 14 of 899 labels apart). n_threads=None is kept apart from the count
            # it resolves to: torch's default and set_num_threads(2) differ here (88.3 vs
            # 88.7 on that pair), the latter setting the BLAS's threads as well.
            params["_threads"] = f"{self.n_threads!r}:{torch.get_num_threads()}"
            # and the kernels' instruction set and the CPU: a checkpoint of scalar kernels
            # (ATEN_CPU_CAPABILITY=default) resumed under AVX2 gave the scalar result (4 of
            # 899 digits labels apart) in a record that named AVX2
            params["_kernels"] = cpu_kernels()
        # the libraries that compute the stages: a release can change either result
        params["_libraries"] = f"torch {torch.__version__}, scikit-learn {sklearn.__version__}"
        h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
        for name, code in sorted(self._user_code().items()):
            h.update(f"{name} code={code};".encode())
        for v in self.get_params(deep=False).values():
            # repr() of a module shows its structure, not its weights or buffers, nor every
            # setting (MMDLoss's repr omits its median mode and its scales' values); nor does
            # it show a class's code, or a large array's values: each is hashed itself, also
            # inside a parameter's containers (a pytorch-adapt layer in loss_params)
            for leaf in _nested(v):
                if isinstance(leaf, nn.Module):
                    h.update(module_fingerprint(leaf).encode())
                elif isinstance(leaf, type) and not is_own(leaf.__module__):
                    h.update(class_code(leaf))
                elif isinstance(leaf, (torch.Tensor, np.ndarray)):
                    h.update(setting_text(leaf).encode())
        # What the pair says beyond its bytes: the same bytes cut at another row, with
        # another k or another image shape are another fit.
        layout = {
            "n_clusters": pair.n_clusters,
            "heterogeneous": pair.heterogeneous,
            **{
                side: [dom.X.shape, str(dom.X.dtype), dom.image_shape, dom.y is not None]
                for side, dom in (("source", pair.source), ("target", pair.target))
            },
        }
        h.update(repr(layout).encode())
        for dom in (pair.source, pair.target):
            h.update(np.ascontiguousarray(dom.X).tobytes())
            h.update(b"" if dom.y is None else dom.y.tobytes())
        return h.hexdigest()[:16]

    def _ckpt(self, stage: str) -> Path | None:
        if self.checkpoint_dir is None:
            return None
        if self.callbacks and stage not in _CALLBACK_FREE_STAGES:
            return None
        return user_path(self.checkpoint_dir) / f"dtc-{self._key}-{stage}.pt"

    def _finished_checkpoints(self) -> list[Path] | None:
        """The checkpoints of this fit's stages that are on disk; None before its key is
        known (while the data are hashed: an earlier run's stages may be there)."""
        if getattr(self, "_key", None) is None:
            return None
        stages = ("pretrain", "adapt", "self_train", "cluster", "refine")
        return [p for s in stages if (p := self._ckpt(s)) is not None and p.exists()]

    def _save(self, stage: str, extra: dict | None = None) -> None:
        path = self._ckpt(stage)
        if path is not None and self._loss is not None:
            self._warn_plain_loss_state()
        if path is not None:
            state = {"nets": self._net_states(), "history": self.history_, **(extra or {})}
            # The global RNG as the stage left it: later stages draw from it (dropout, e.g.
            # a discriminator's), so a resumed fit must continue from the same state.
            state["rng"] = torch.get_rng_state()
            if self._device.type == "cuda":
                state["cuda_rng"] = torch.cuda.get_rng_state(self._device)
            try:
                save_checkpoint(path, state)
            except OSError as exc:
                # a checkpoint folder the fit cannot write (read-only, full): the stage's
                # work is not lost with it
                warn(
                    f"DTC: checkpoint_dir {str(self.checkpoint_dir)!r}: the {stage!r} stage "
                    f"cannot be saved ({exc.strerror or exc}); the fit goes on without it",
                    RuntimeWarning,
                )

    def _load(self, stage: str) -> dict | None:
        path = self._ckpt(stage)
        state = None if path is None else read_checkpoint(path)
        if state is None:
            return None
        before = self._net_states()
        try:
            self._load_net_states(state["nets"])
            torch.set_rng_state(state["rng"])
            history = list(state["history"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            # read, but not this fit's: a bare KeyError 'source_ae' (or a shape mismatch)
            # failed every later fit; the stage is computed again from the weights as they
            # were (a partial load would have trained from a mix)
            self._load_net_states(before)
            warn(
                f"checkpoint {str(path)!r} does not hold this fit's {stage!r} stage "
                f"({type(exc).__name__}: {str(exc)[:120]}); computed again and replaced",
                RuntimeWarning,
            )
            return None
        if "cuda_rng" in state and self._device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self._device)
        self.history_ = history
        self.resumed_stages_.append(stage)
        return state

    def _warn_plain_loss_state(self) -> None:
        # A counter kept as a plain attribute (self.step += 1) is not in the state dict: a
        # fit resumed from this checkpoint starts it over, and its figures differ from an
        # uninterrupted fit's (a warm-up restarted: 38 of 899 labels on the digits).
        before = getattr(self, "_loss_plain", None)
        if before is None:
            return
        now = _plain_state(self._loss)
        changed = sorted(
            k
            for k in now.keys() | before.keys()
            if now.get(k) != before.get(k) and not (_is_nan(now.get(k)) and _is_nan(before.get(k)))
        )
        if changed:
            self._loss_plain = None  # once a fit
            warn(
                f"DTC: loss {type(self._loss).__name__} changed its attribute(s) {changed} "
                "during the fit; a checkpoint holds only its state_dict, so a fit resumed "
                "from it starts them over: keep such state in a buffer (register_buffer) or "
                "in get_extra_state",
                RuntimeWarning,
            )

    def _modules(self) -> dict[str, nn.Module]:
        mods = {"source_ae": self._src_ae, "target_ae": self._tgt_ae}
        if self._head is not None:
            mods["head"] = self._head
        if self._pl_head is not None:
            mods["pseudo_head"] = self._pl_head
        if self._loss is not None:
            mods["loss"] = self._loss
        return mods

    def _net_states(self) -> dict:
        return {k: copy.deepcopy(m.state_dict()) for k, m in self._modules().items()}

    def _load_net_states(self, states: dict) -> None:
        """Load a ``_net_states()`` dict all or nothing: it is checked against this fit's
        networks first (their names, then each tensor's name and shape), so a snapshot
        of another configuration is refused by name instead of half loaded (torch's own
        error named only a ``Linear``, after the encoders were overwritten)."""
        mods = self._modules()
        if not isinstance(states, dict) or set(states) != set(mods):
            got = sorted(states) if isinstance(states, dict) else type(states).__name__
            raise ValueError(
                f"the snapshot holds the networks {got}, this fit {sorted(mods)}: a snapshot "
                "of another configuration (loss, use_source_labels)?"
            )
        # Buffers registered as None and filled later (torch's pattern for state sized by
        # the first batch) are in a state dict only once filled: a snapshot taken before
        # (on_adapt_begin's) lacks one this fit holds, a checkpoint of a finished stage holds
        # one a fresh fit has not filled. Both are one configuration: the slot is emptied,
        # or made for the snapshot's tensor, just before the load.
        # Only those registered as None when the fit built its networks: any other buffer
        # missing from a snapshot marks another configuration (one loss's buffer emptied by
        # another loss's snapshot broke the loss's next call).
        slots = []  # (submodule, buffer name, snapshot tensor or None)
        lazy = getattr(self, "_lazy_buffers", None)  # None: an estimator pickled before them
        for name, module in mods.items():
            own, theirs = module.state_dict(), states[name]
            if isinstance(theirs, dict) and set(theirs) != set(own):
                differ = set(own) ^ set(theirs)
                for key in differ if lazy is None else differ & lazy.get(name, set()):
                    sub, _, buf = key.rpartition(".")
                    owner = module.get_submodule(sub) if _has_submodule(module, sub) else None
                    if owner is None or buf not in owner._buffers:
                        continue
                    if key in own:  # filled here, None in the snapshot
                        slots.append((owner, buf, None))
                        del own[key]
                    elif owner._buffers[buf] is None:  # None here, filled in the snapshot
                        slots.append((owner, buf, theirs[key]))
                        own[key] = theirs[key]
            if not isinstance(theirs, dict) or set(theirs) != set(own):
                theirs = theirs if isinstance(theirs, dict) else {}
                lacks, extra = sorted(set(own) - set(theirs)), sorted(set(theirs) - set(own))
                raise ValueError(
                    f"the snapshot's {name!r} lacks {len(lacks)} of this fit's tensors "
                    f"{lacks[:3]} and has {len(extra)} others {extra[:3]}: a snapshot of "
                    "another configuration (the loss or its parameters)?"
                )
            for key, value in own.items():
                # a module's extra state (get_extra_state) is any object, and a lazy
                # parameter takes its shape from the load itself: no shape to compare
                if not isinstance(value, torch.Tensor) or is_lazy(value):
                    continue
                shape = getattr(theirs[key], "shape", None)
                if shape != value.shape:
                    raise ValueError(
                        f"the snapshot's {name}.{key} has shape {tuple(shape or ())}, this "
                        f"fit's {tuple(value.shape)}: hidden, n_latent, n_clusters or the "
                        "loss's parameters differ"
                    )
        if mods["source_ae"] is mods["target_ae"] and not _same_weights(
            states["source_ae"], states["target_ae"]
        ):
            # one shared encoder would have taken the target encoder's weights over the
            # source encoder's, silently
            raise ValueError(
                "the snapshot holds two encoders (encoder_mode='asymmetric'), this fit one "
                "shared encoder"
            )
        before = self._net_states()
        slots_before = [(owner, buf, owner._buffers[buf]) for owner, buf, _ in slots]
        try:
            for owner, buf, tensor in slots:
                # on the module's device, as load_state_dict copies into the tensor it has
                # (a module of nothing else: the fit's device, not the snapshot's, which a
                # checkpoint reads onto the CPU)
                place = next(itertools.chain(owner.parameters(), owner.buffers()), None)
                device = self._device if place is None else place.device
                owner._buffers[buf] = (
                    None if tensor is None else torch.empty_like(tensor, device=device)
                )
            for name, module in mods.items():
                module.load_state_dict(states[name])
        except BaseException:
            # what the checks cannot see (a loss's extra state its set_extra_state
            # refuses) fails after the encoders were loaded: put them back
            for owner, buf, tensor in slots_before:
                owner._buffers[buf] = tensor
            for name, module in mods.items():
                module.load_state_dict(before[name])
            raise

    # -- callback API ---------------------------------------------------------
    def get_state(self) -> dict:
        """Deep copy of networks, alignment loss and (during adaptation and self-training)
        optimiser state; during adaptation with an unlabelled class-conditional loss also
        the target cluster centres its discriminator conditions on (``"centres"``)."""
        self._target_encoder("get_state")
        opt = getattr(self, "_opt", None)
        centres = getattr(self, "_adapt_centres", None)
        return {
            "nets": self._net_states(),
            "optimizer": None if opt is None else copy.deepcopy(opt.state_dict()),
            "optimizer_params": None if opt is None else self._opt_param_names(opt),
            "centres": None if centres is None else centres.clone(),
        }

    def set_state(self, state: dict) -> None:
        """Restore a :meth:`get_state` snapshot (e.g. to roll back a bad epoch). A snapshot
        of another configuration (other networks, shapes or encoder mode) is refused with
        ``ValueError`` before anything is loaded. After the fit's stages (in a callback's
        ``on_fit_end``, or on a fitted estimator) it restores the networks only:
        ``embedding_``, ``labels_`` and ``cluster_centers_`` still describe the fitted
        ones, while :meth:`transform_target` embeds with the restored networks."""
        self._target_encoder("set_state")
        if not isinstance(state, dict) or "nets" not in state:
            raise ValueError(
                f"state: expected a snapshot of get_state() (a dict with 'nets'), got "
                f"{type(state).__name__}"
            )
        centres = state.get("centres")
        # only where they are used (an unlabelled conditional loss): another fit's unused
        # centres neither refuse a snapshot nor hide a real mismatch of its networks
        adapting = (
            "centres" in state and getattr(self, "_adapting", False) and self._tracks_numbering()
        )
        if adapting and centres is not None and len(centres) != self._k:
            raise ValueError(
                f"state: the snapshot's adaptation holds {len(centres)} cluster centres, this "
                f"fit's {self._k} (n_clusters): a snapshot of another configuration"
            )
        self._load_net_states(state["nets"])
        if adapting:
            # The centres the restored discriminator was trained with (None: the start,
            # before any epoch): the numbering self-training takes over and the next epoch's
            # K-means start follow them, so that rolling back to epoch e equals stopping
            # after it (but for the global RNG, which a snapshot does not hold: a dropout
            # layer's later masks follow the discarded epochs' draws). Outside adaptation (a
            # self-training rollback) they no longer count.
            self._adapt_centres = None if centres is None else centres.clone()
        opt = getattr(self, "_opt", None)
        saved = state.get("optimizer")
        if opt is None or saved is None:
            return
        saved_names, names = state.get("optimizer_params"), self._opt_param_names(opt)
        if saved_names is not None and saved_names != names:
            # A snapshot of another stage's optimiser (adaptation's, restored during
            # self-training, whose optimiser also trains the pseudo-label head): its state is
            # indexed by that optimiser's parameters. Each parameter gets the state it had
            # then; one that optimiser did not train (that head) had none, and gets none.
            index = {name: i for i, name in enumerate(saved_names)}
            moved = {}
            for i, name in enumerate(names):
                j = index.get(name)
                if j is not None and j in saved["state"]:
                    moved[i] = saved["state"][j]
            # the stage's own hyper-parameters (learning rates) stay
            saved = {"state": moved, "param_groups": opt.state_dict()["param_groups"]}
        opt.load_state_dict(copy.deepcopy(saved))

    def _opt_param_names(self, opt: torch.optim.Optimizer) -> list[str]:
        """Names (``module.parameter``) of the parameters ``opt`` trains, in its order."""
        names: dict[int, str] = {}
        for mod_name, m in self._modules().items():
            for name, p in m.named_parameters():
                names.setdefault(id(p), f"{mod_name}.{name}")
        return [names.get(id(p), "?") for g in opt.param_groups for p in g["params"]]

    def transform_target(self, X, *, preprocessed: bool = False) -> np.ndarray:
        """Current target embeddings ``(n, k)`` float32 of target rows ``X``
        ``(n, d_target)``.

        ``X`` is size-normalised (when ``size_normalize``) and z-scored with the target's
        fit statistics (when ``standardize``, exactly
        what the networks were trained on) and encoded by the target encoder in
        evaluation mode. Callable from callbacks during the fit (the encoder as trained so
        far, e.g. after every adaptation epoch) and after it (``transform_target(
        pair.target.X)`` equals ``embedding_``).

        ``X`` may be a torch tensor on any device (it is read detached, on the host).

        ``preprocessed=True``: ``X`` holds rows of the pair callbacks get in
        ``on_fit_begin``, already preprocessed by the fit; they are only encoded.
        (Preprocessing them again would scale each column twice.)
        """
        ae = self._target_encoder("transform_target")
        # "no" is truthy: it skipped the z-scoring without a word
        preprocessed = check_bool(preprocessed, method="DTC.transform_target", name="preprocessed")
        # A tensor (on a GPU, or requiring grad) is read detached and on the host:
        # numpy refuses both.
        X = float_array(X, "DTC.transform_target")
        d = self._n_target_features
        if X.ndim != 2 or X.shape[1] != d or X.shape[0] == 0:
            raise ValueError(
                f"DTC.transform_target: X must have shape (n, {d}) with n >= 1 (the target's "
                f"features), got {X.shape}"
            )
        if not np.isfinite(X).all():
            raise ValueError("DTC.transform_target: X contains NaN or infinite values")
        if not preprocessed and self._target_image_shape is not None:
            # rounded to float32 as in the fit, which keeps them in a Domain (float32 X):
            # otherwise the z-scored rows differ from embedding_'s by ~1e-6
            X = size_normalize_images(X, self._target_image_shape)
            X = X.astype(np.float32).astype(np.float64)
        if not preprocessed and self.target_mean_ is not None:
            X = zscore_columns(X, mean=self.target_mean_, std=self.target_std_)
        if float(np.abs(X).max()) > float(np.finfo(np.float32).max):
            # embed casts to float32: inf, and a NaN embedding (a Domain refuses such rows)
            raise ValueError(
                "DTC.transform_target: X holds values beyond float32's range (|x| > 3.4e+38) "
                "once preprocessed; rescale the features"
            )
        return embed(ae.encoder, X)

    # -- the fit --------------------------------------------------------------
    def _fit(self, pair: DomainPair) -> None:
        # fit has dropped the last fit's encoder (_forget_fit) and _validate_pair has checked
        # the parameters, just before
        labelled = bool(self.use_source_labels) and pair.source.y is not None
        k = self._resolve_k(pair)
        # the thread count is the process's too: set under deterministic's lock
        with deterministic(self.seed, self.device):
            old_threads = torch.get_num_threads()
            if self.n_threads is not None:
                torch.set_num_threads(int(self.n_threads))
            # what a record states as the fit's platform (the process's count is restored
            # below: a record of a serial sweep on 2 cores said 2 of a fit run on 1)
            self.fit_threads_ = torch.get_num_threads()
            try:
                self._run(pair, labelled, k)
            except BaseException as exc:
                # Nor its own half-trained encoder: a failed fit is no fit.
                self._tgt_ae = None
                # what a rerun resumes from, for `dtc run` to say: a checkpoint folder shared
                # by many runs holds other runs' stages too (looked up for an interrupt only)
                if (
                    isinstance(exc, KeyboardInterrupt)
                    and (kept := self._finished_checkpoints()) is not None
                ):
                    exc.dtc_checkpoints = kept
                raise
            finally:
                torch.set_num_threads(old_threads)
                self._opt = None

    def _resolve_k(self, pair: DomainPair) -> int | None:
        if self.n_clusters is None and pair.n_clusters is None:
            return None  # estimated in the cluster stage
        return self._n_clusters(pair)

    def _run(self, pair: DomainPair, labelled: bool, k: int | None) -> None:
        if self.pretrain_on == "target" and pair.heterogeneous:
            raise ValueError(
                "DTC: pretrain_on='target' reconstructs the target with the source network, "
                "which needs one feature space; the pair is heterogeneous (use 'source' or "
                "'both': each network then pretrains on its own domain)"
            )
        # Unknown names still fail before any training. A loss's parameters (a
        # discriminator's weights) come from a stream of their own: drawn from the fit's, they
        # moved every later draw, and dann or a user's loss with parameters started from
        # other autoencoder weights than coral or mmd at the same seed.
        with self._loss_stream(1):
            self._loss = self._make_loss()
        self._device = resolve_device(self.device)
        # Hashing all the data costs a pass over it: only when checkpoints are written.
        self._key = None if self.checkpoint_dir is None else self._checkpoint_key(pair)
        self.history_, self.resumed_stages_ = [], []
        self.transfer_scale_, self.stop_training_ = 1.0, False
        self._opt = None
        self._numbering = None
        # the adaptation epoch's target cluster centres (unlabelled conditional losses),
        # while adaptation runs (_adapting), and a snapshot holds them
        self._adapt_centres, self._adapting = None, False
        self.target_mean_ = self.target_std_ = None
        self._target_image_shape = None
        if self.size_normalize:
            # Before the z-scoring: scale every image's ink to fill the frame, in both
            # domains, so a difference of digit size is gone before any network sees it.
            for domain in (pair.source, pair.target):
                if domain.image_shape is None or len(domain.image_shape) != 2:
                    raise ValueError(
                        f"DTC: size_normalize=True needs gray images (image_shape (h, w)); "
                        f"domain {domain.name!r} has image_shape {domain.image_shape!r}"
                    )
            source, target = (
                d.with_features(
                    size_normalize_images(d.X, d.image_shape), image_shape=d.image_shape
                )
                for d in (pair.source, pair.target)
            )
            pair = dataclasses.replace(pair, source=source, target=target)
            self._target_image_shape = pair.target.image_shape
        if self.standardize:
            # Per-domain z-scoring of every feature: a first-order alignment of the two
            # domains before any network sees them (what CORAL's paper does first, Sun,
            # Feng & Saenko, AAAI 2016); pretraining and adaptation see these features.
            # The target's statistics are kept so that transform_target(X) maps new rows
            # the same way.
            def scaled(domain):
                X = np.asarray(domain.X, dtype=np.float64)
                mean, std = X.mean(0), floored_std(X, self.std_floor_quantile)
                return (
                    dataclasses.replace(domain, X=zscore_columns(X, mean=mean, std=std)),
                    mean,
                    std,
                )

            source, _, _ = scaled(pair.source)
            target, self.target_mean_, self.target_std_ = scaled(pair.target)
            pair = dataclasses.replace(pair, source=source, target=target)
        self._Xs = as_tensor(pair.source.X, self._device)
        self._Xt = as_tensor(pair.target.X, self._device)
        self._n_target_features = pair.target.n_features
        # The networks see source classes as codes 0..n_classes-1 (the head has one output
        # per class, pseudo-labels index the same outputs); ``_classes`` names them.
        self._classes, self._ys = None, None
        if labelled:
            self._classes, codes = np.unique(pair.source.y, return_inverse=True)
            self._ys = torch.as_tensor(codes, dtype=torch.long, device=self._device)
            # Model transfer and the head's final labels name each cluster by a source class
            # (k is the class count when not given): refuse a mismatch before any training,
            # naming every setting that would have to change, not one at a time.
            naming = []  # (a setting that names clusters, the one that would not)
            if self.model_transfer:
                naming.append(("model_transfer=True", "model_transfer=False"))
            if self.final_labels != "cluster":
                naming.append((f"final_labels={self.final_labels!r}", "final_labels='cluster'"))
            trained = self.sup_weight > 0 or (self.self_training_rounds and self.pseudo_weight > 0)
            if self.final_labels != "cluster" and not trained:
                raise ValueError(
                    f"DTC: final_labels={self.final_labels!r} names the target by the classifier "
                    f"head, but sup_weight=0 leaves it untrained (and no self-training with "
                    f"pseudo_weight > 0 trains it); set sup_weight > 0, or final_labels='cluster'"
                )
            if naming and k is not None and k != len(self._classes):
                raise ValueError(
                    f"DTC: with a labelled source, {' and '.join(n for n, _ in naming)} name the "
                    f"clusters by source classes, but the source has {len(self._classes)} "
                    f"classes and n_clusters={k}; set n_clusters={len(self._classes)}, or "
                    f"{' and '.join(i for _, i in naming)}"
                )
        self._conditional = bool(getattr(self._loss, "conditional", False))
        if self._conditional and labelled and self.sup_weight == 0:
            # With a labelled source the conditional loss conditions on the head's class
            # probabilities; sup_weight=0 leaves the head untrained during adaptation (at
            # chance on the source), so the alignment would condition on noise.
            raise ValueError(
                f"DTC: loss {type(self._loss).__name__} aligns class-conditionally on the "
                "classifier head's probabilities, but sup_weight=0 leaves the head untrained; "
                "set sup_weight > 0, or use_source_labels=False (conditions on soft "
                "assignments to target cluster centres), or an unconditional loss"
            )
        if k is None and (self._conditional or self.self_training_rounds) and not labelled:
            # An unlabelled conditional loss (its discriminator's input is features x
            # clusters) and the pseudo-label head need k from the start: estimate it once,
            # on the raw target features.
            k = _select_k(pair.target.X, self.seed)
        self._k = k if k is not None else (len(self._classes) if labelled else None)
        if k is None and self._k is not None and self._k > pair.target.n_samples:
            # k from the source's classes: named before any training, not after it
            raise ValueError(
                f"DTC: n_clusters=None (and the pair gives none) takes one cluster per source "
                f"class, {self._k}, but the target has only {pair.target.n_samples} samples; "
                "expected at least as many target samples as clusters"
            )
        if self.model_transfer and not labelled and self._k is not None:
            # named before any training, not after it (k is estimated later otherwise)
            self._check_source_centres(self._k, pair.source.n_samples)
        self._build(pair, labelled)
        gen = make_generator(self.seed + 1)
        n_sub = _DISCREPANCY_SAMPLES
        self._sub = (
            torch.randperm(len(self._Xs), generator=gen)[:n_sub],
            torch.randperm(len(self._Xt), generator=gen)[:n_sub],
        )
        # A callback's draws stay its own (a monitor subsampling the target): drawn from the
        # fit's RNG they moved every later draw, and the pretraining checkpoint, shared by
        # fits with and without callbacks, restores the RNG as the fit that wrote it left it.
        # A failure after a callback's on_fit_begin, in another callback's on_fit_begin too
        # (a monitor refusing the pair), is told to it; the one that raised cleans up itself.
        # The pair's arrays are the ones the networks train on (the tensors share their
        # memory): read-only, so that a callback's scratch work cannot change the training.
        seen, begun = _read_only(pair), []
        try:
            self._notify("on_fit_begin", seen, begun=begun)
            self._stages(pair, k)
        except BaseException:
            for cb in begun:
                try:
                    cb.on_fit_failed(self)
                except Exception as exc:
                    # one cleanup that fails must neither skip the others nor replace the
                    # error of the fit, which the user needs to see
                    warn(
                        f"{type(cb).__name__}.on_fit_failed raised {exc!r} while cleaning up "
                        "after the fit's own error (raised next)",
                        RuntimeWarning,
                    )
            raise

    def _notify(self, hook: str, *args, begun: list | None = None) -> None:
        """Call ``hook`` of every callback in turn, with ``args`` after the estimator, and
        append each whose hook returned to ``begun`` (where given). In a fork of the RNG: a
        callback's random draws stay its own (drawn from the fit's generator, they moved
        every later dropout mask and batch order, so a callback that only watched changed
        the result)."""
        with torch.random.fork_rng(devices=rng_devices(self._device)):
            for cb in self.callbacks:
                # on_adapt_begin: each its own snapshot (a deep copy, the contract says),
                # taken after the earlier callbacks' hooks (one of which may set_state)
                given = (self.get_state(),) if hook == "on_adapt_begin" else args
                getattr(cb, hook)(self, *given)
                self._checked_scale(type(cb).__name__)  # named before the next reads it
                if begun is not None:
                    begun.append(cb)

    def _stages(self, pair: DomainPair, k: int | None) -> None:
        """Pretraining to the final labels, each stage resumed from its checkpoint."""
        if self._load("pretrain") is None:
            self._pretrain(pair)
            self._save("pretrain")
        for stage, train in (("adapt", self._adapt), ("self_train", self._self_train)):
            if stage == "self_train" and not self.self_training_rounds:
                continue
            state = self._load(stage)
            if state is None:
                train()
                self._save(stage, self._numbering_state())
            else:
                self._numbering = state.get("numbering")
        state = self._load("cluster")
        if state is None:
            self._cluster(k)
            self._save("cluster", self._cluster_state())
        else:
            self._set_cluster_state(state)
        if self.refine is not None:
            state = self._load("refine")
            if state is None:
                self._refine()
                self._save("refine", self._cluster_state())
            else:
                self._set_cluster_state(state)
        # Trained: the fitted networks are left in evaluation mode (dropout off, batch norm
        # on its running statistics), as they embed; a re-fit sets training mode again.
        # Without the last step's gradients: a copy of every parameter, kept for nothing.
        for m in self._modules().values():
            m.eval()
            m.zero_grad(set_to_none=True)
        self.embedding_ = embed(self._tgt_ae.encoder, self._Xt)
        self.source_embedding_ = embed(self._src_ae.encoder, self._Xs)
        self.autoencoder_, self.source_autoencoder_ = self._tgt_ae, self._src_ae
        self._notify("on_fit_end")

    def _build(self, pair: DomainPair, labelled: bool) -> None:
        arch = self.architecture
        if isinstance(arch, nn.Module):
            arch = copy.deepcopy(arch)  # never train the user's instance in place
        kw = {"hidden": self.hidden, "n_latent": self.n_latent}
        src = pair.source
        try:
            self._src_ae = build_autoencoder(
                arch, src.n_features, image_shape=src.image_shape, **kw
            )
        except ValueError as exc:
            raise ValueError(f"DTC: architecture does not fit the source data: {exc}") from exc
        # The features are float32 tensors: another dtype failed at the first training step
        # with torch's bare "mat1 and mat2 must have the same dtype" (refused before pretraining).
        check_float32(self._src_ae, "DTC: architecture (the source network)")
        latent = self._src_ae.n_latent
        if pair.heterogeneous:
            tgt = pair.target
            # A new network for the target's own feature space, into the same latent space.
            t_arch = arch if isinstance(arch, str) else "mlp"
            if t_arch == "conv" and tgt.image_shape is None:
                t_arch = "mlp"
            try:
                self._tgt_ae = build_autoencoder(
                    t_arch,
                    tgt.n_features,
                    image_shape=tgt.image_shape,
                    hidden=self.hidden,
                    n_latent=latent,
                )
            except ValueError as exc:
                raise ValueError(f"DTC: architecture does not fit the target data: {exc}") from exc
        elif self.encoder_mode == "asymmetric":
            # a copy of the source network, made below (the dry loss call encodes with it),
            # given the pretrained source weights after stage 1 (_pretrain)
            self._tgt_ae = None
        else:
            self._tgt_ae = self._src_ae
        self._head = nn.Linear(latent, len(self._classes)) if labelled else None
        # Without source labels, self-training trains a head of its own on the target's
        # pseudo-labels (cluster indices).
        self._pl_head = (
            nn.Linear(latent, self._k) if (self.self_training_rounds and not labelled) else None
        )
        for m in (self._src_ae, self._tgt_ae, self._head, self._pl_head, self._loss):
            if m is not None:
                # Training mode whatever mode a user's module came in: pretraining sets it,
                # but a fit resumed after pretraining (and ADDA's target copy) skips that.
                m.to(self._device).train()
        if self._tgt_ae is None:
            self._tgt_ae = copy.deepcopy(self._src_ae)
        n_blocks = len(self._tgt_ae.encoder_blocks)
        if self.freeze_layers > n_blocks:
            raise ValueError(
                f"DTC: freeze_layers={self.freeze_layers} but the encoder has only {n_blocks} blocks"
            )
        # The buffers registered as None: the only tensors a snapshot of this configuration
        # may lack or hold beyond this fit (_load_net_states). Before the dry loss call,
        # which may fill one, and after it, which may make a submodule with one.
        before = {name: _none_buffers(m) for name, m in self._modules().items()}
        self._materialise_loss()
        self._lazy_buffers = {
            name: before.get(name, set()) | _none_buffers(m) for name, m in self._modules().items()
        }

    @contextlib.contextmanager
    def _loss_stream(self, part: int):
        """The global torch RNG seeded, for the body, from ``(seed, part)`` (a stream of the
        loss's own), and restored afterwards: the fit's own draws are the same with any
        loss."""
        devices = rng_devices(self.device)  # self._device is set after the first call
        with torch.random.fork_rng(devices=devices):
            seed_rngs(np.random.SeedSequence([int(self.seed), part]).generate_state(1)[0], devices)
            yield

    def _materialise_loss(self) -> None:
        # Losses with lazily sized discriminators create their parameters at the first
        # call; one dry call makes them exist before the optimiser and checkpoints, and
        # shows a user's loss that does not return the scalar training adds up.
        if self._loss is None:
            return
        with self._loss_stream(2):  # the lazily sized parameters: the loss's own stream
            self._dry_loss_call()
        self._loss_plain = _plain_state(self._loss)

    def _dry_loss_call(self) -> None:
        # In evaluation mode, as every dry run (dtc.nn.autoencoder._dry_run): in training
        # mode batch norm would update its running statistics from these four rows, and
        # dropout would draw from the fit's random numbers.
        mods = (self._src_ae, self._tgt_ae, self._loss)
        modes = [m.training for m in mods]
        for m in mods:
            m.eval()
        # Four rows, or a batch's worth where batches are smaller: a loss that needs 3 rows
        # with batch_size=2 failed at the first training batch, after pretraining, in words
        # about "samples" that did not name batch_size.
        rows = min(4, self.batch_size)
        try:
            with torch.no_grad():
                zs = self._src_ae.encode(self._Xs[:rows])
                zt = self._tgt_ae.encode(self._Xt[:rows])
                ps, pt = (
                    (self._dry_probs(zs), self._dry_probs(zt))
                    if self._conditional
                    else (None, None)
                )
                context = self._context(zs, pt, 0.0, ps)
                try:
                    value = self._loss(zs, zt, **context)
                except TypeError as exc:  # a user's forward that does not take **context
                    if _takes(self._loss.forward, zs, zt, **context):
                        raise self._dry_call_failed(exc) from exc  # the forward's own
                    raise ValueError(
                        f"DTC: loss {type(self._loss).__name__} could not be called as "
                        f"loss(source, target, **context) with context keys "
                        f"{sorted(context)}: {exc}; its forward must accept "
                        "(source, target, **context)"
                    ) from exc
                except Exception as exc:
                    # named like the autoencoder's dtype check: a bare "mat1 and mat2 must
                    # have the same dtype" did not say which module
                    raise self._dry_call_failed(exc) from exc
        finally:
            for m, mode in zip(mods, modes, strict=True):
                m.train(mode)
        # an integer value would fail later as "without a gradient"
        check_loss_value(value, f"DTC: loss {type(self._loss).__name__}")

    # -- one cluster numbering for an unlabelled conditional loss -------------------
    # Without source labels a conditional loss conditions on soft assignments to target
    # centres, and a conditional discriminator's weights for cluster c are tied to whatever
    # those assignments call c. Adaptation keeps its numbering from epoch to epoch (each
    # epoch's K-means starts at the last one's centres), but self-training's first round and
    # the clustering stage cluster afresh, in an arbitrary order. ``_numbering`` holds the
    # target's partition ``(n_target,)`` long as the loss last saw it; a later stage's
    # clusters are matched to it, so that c stays c (agreement measured under identity went
    # from 1-4 % to the partitions' best-matching agreement, 67-77 %).
    def _tracks_numbering(self) -> bool:
        return self._conditional and self._head is None

    def _numbering_state(self) -> dict:
        """The partition a resumed fit needs to go on with the same numbering."""
        return {} if self._numbering is None else {"numbering": self._numbering}

    def _renumber(self, labels: np.ndarray) -> np.ndarray | None:
        """``(k,)`` permutation taking ``labels`` ``(n_target,)``'s cluster indices to the
        loss's numbering (None when the loss has none yet, or needs none)."""
        if not self._tracks_numbering() or self._numbering is None:
            return None
        return _renumbering(labels, self._numbering.numpy(), self._k)

    def _dry_call_failed(self, exc: Exception) -> ValueError:
        small = (
            f"; training batches hold batch_size={self.batch_size} rows a domain"
            if self.batch_size < 4
            else ""
        )
        return ValueError(
            f"DTC: loss {type(self._loss).__name__} failed when first called, before "
            "training, on a few rows (the call that sizes lazily built parameters): "
            f"{type(exc).__name__}: {exc}{small}"
        )

    def _dry_probs(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, k)`` probabilities for the dry call, rows of more than one kind (row ``i``
        leans to cluster ``i mod k``): uniform rows all alike gave a median bandwidth of 0
        on them (JMMD's ``prob_scales``), refused before any training. No random draws:
        the fit's own streams stay as they were."""
        k = self._n_probs()
        lean = F.one_hot(torch.arange(len(z), device=z.device) % k, k).to(z.dtype)
        return 0.5 * lean + 0.5 / k

    def _uniform_probs(self, z: torch.Tensor) -> torch.Tensor:
        k = self._n_probs()
        return torch.full((len(z), k), 1.0 / k, device=z.device)

    def _n_probs(self) -> int:
        if self._head is not None:
            return self._head.out_features
        return self._k

    # -- stage 1 ----------------------------------------------------------------
    def _pretrain(self, pair: DomainPair) -> None:
        common = {
            "epochs": self.pretrain_epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "noise": self.noise,
            "mask": self.mask,
            "seed": self.seed,
            "device": self._device,
            "verbose": self.verbose,
        }
        X, y = pair.source.X, None if self._ys is None else self._ys.cpu().numpy()
        recon_rows = None
        n_s, n_t = pair.source.n_samples, pair.target.n_samples
        if self.pretrain_on == "target" and y is None:
            X = pair.target.X
        elif self.pretrain_on in ("both", "target") and not pair.heterogeneous:
            X = np.vstack([X, pair.target.X])
            if y is not None:  # target rows are unlabelled (-1): no cross-entropy on them
                y = np.concatenate([y, -np.ones(n_t, dtype=np.int64)])
            if self.pretrain_on == "target":
                # labelled source rows train the head only; the target alone is reconstructed
                recon_rows = np.r_[np.zeros(n_s, dtype=bool), np.ones(n_t, dtype=bool)]
        self.history_ += pretrain_autoencoder(
            self._src_ae,
            X,
            y=y,
            head=self._head if y is not None else None,
            sup_weight=self.sup_weight,
            stage="pretrain",
            recon_rows=recon_rows,
            **common,
        )
        if pair.heterogeneous:
            self.history_ += pretrain_autoencoder(
                self._tgt_ae, pair.target.X, stage="pretrain_target", **common
            )
        elif self.encoder_mode == "asymmetric":
            self._tgt_ae.load_state_dict(self._src_ae.state_dict())  # ADDA: start from the source

    # -- stage 2 ----------------------------------------------------------------
    def _param_groups(self, extra: Sequence[nn.Module]) -> list[dict]:
        enc_blocks = self._tgt_ae.encoder_blocks
        for block in enc_blocks[: self.freeze_layers]:
            for p in block.parameters():
                p.requires_grad_(False)
        enc = [p for p in self._tgt_ae.encoder.parameters() if p.requires_grad]
        rest = list(self._tgt_ae.decoder.parameters())
        for m in extra:
            if m is not None:
                rest += list(m.parameters())
        if self.encoder_mode == "asymmetric":
            for p in self._src_ae.parameters():  # ADDA: the source encoder stays fixed
                p.requires_grad_(False)
        groups = [{"params": enc, "lr": self.lr * self.pretrained_lr_scale}]
        seen = {id(p) for p in enc}
        groups.append({"params": [p for p in rest if id(p) not in seen], "lr": self.lr})
        return groups

    def _lambda(self, progress: float) -> float:
        # An adversarial loss whose gradient reversal follows DANN's schedule already ramps
        # the encoder's reversed gradient; ramping its weight as well would scale that
        # gradient by the schedule squared and the discriminator's by the schedule.
        # Any reversal layer in the loss (a user's, under any name, or a wrapped DANNLoss):
        # looking for an attribute named "grl" alone ramped those twice. Known by what it
        # has, GradientReversal's coefficient on DANN's schedule, not by its class: a copy
        # of grl.py in a user's file was ramped twice, and its DANN scored 68.2 against the
        # built-in's 70.1 on digits.
        own_ramp = self._loss is not None and any(
            callable(getattr(m, "coefficient", None)) and getattr(m, "schedule", None) == "dann"
            for m in self._loss.modules()
        )
        ramp = dann_schedule(progress) if self.lam_schedule == "dann" and not own_ramp else 1.0
        # transfer_scale_ is 1.0 but where a callback set it: checked after each hook
        return float(self.lam) * ramp * float(self.transfer_scale_)

    def _checked_scale(self, setter: str):
        """``transfer_scale_``, refused by name unless a finite number >= 0: -1 switched the
        alignment off as lam=0 would (while lam=-1 is refused), NaN ended in "the loss
        diverged", None in a bare TypeError (in the monitor's float(), when it came next)."""
        scale = self.transfer_scale_
        if not is_finite_number(scale) or scale < 0:
            raise ValueError(
                f"DTC: transfer_scale_ (set by {setter}) must be a finite number >= 0, got "
                f"{scale!r}"
            )
        return scale

    def _context(self, zs, probs_t, progress: float, probs_s=None) -> dict:
        ctx = {"progress": float(progress)}
        if self._conditional:
            ctx["source_probs"] = self._uniform_probs(zs) if probs_s is None else probs_s
            ctx["target_probs"] = probs_t
        return ctx

    def _steps_per_epoch(self) -> int:
        """Batches per epoch: enough for every row of the larger domain."""
        return max(1, -(-max(len(self._Xs), len(self._Xt)) // self.batch_size))

    def _batches(self, gen: torch.Generator):
        n_s, n_t, b = len(self._Xs), len(self._Xt), self.batch_size
        steps = self._steps_per_epoch()
        perm_s, perm_t = torch.randperm(n_s, generator=gen), torch.randperm(n_t, generator=gen)
        for i in range(steps):
            # Both domains cycle through a fresh permutation; batches hold batch_size rows,
            # except a domain of fewer rows, which gives all of them, each once, every batch.
            idx_s = perm_s[torch.arange(i * b, (i + 1) * b) % n_s]
            idx_t = perm_t[torch.arange(i * b, (i + 1) * b) % n_t]
            yield idx_s[: min(b, n_s)], idx_t[: min(b, n_t)]

    def _step_losses(
        self, where, idx_s, idx_t, lam, progress, probs_fn, pseudo=None, embedding=None
    ) -> dict[str, torch.Tensor]:
        """Losses of one adaptation / self-training / refinement batch (before weighting
        by the caller), ``where`` ``(stage, epoch)``; ``pseudo`` ``(n_target,)`` long holds
        target pseudo-labels (-1: none). ``embedding``, a list: the batch's target embedding
        is appended to it (the one the losses saw, for a caller's own term of it)."""
        # The frozen blocks in evaluation mode (each step: _build, a resumed fit's too, and
        # pretraining put the whole encoder in training mode; embed() restores each block's
        # own mode): with requires_grad off alone, a batch norm in them kept updating its
        # running statistics, so "frozen" blocks still changed.
        for block in self._tgt_ae.encoder_blocks[: self.freeze_layers]:
            block.eval()
        xs, xt = self._Xs[idx_s], self._Xt[idx_t]
        zt, xt_rec = self._tgt_ae(xt)
        if embedding is not None:
            embedding.append(zt)
        out = {"recon": F.mse_loss(xt_rec, xt)}
        if self.encoder_mode == "shared":
            zs, xs_rec = self._src_ae(xs)
            out["recon"] = 0.5 * (out["recon"] + F.mse_loss(xs_rec, xs))
        else:
            # ADDA: the source encoder is frozen, in evaluation mode too: in training mode
            # its batch norm would keep updating its running statistics (and dropout would
            # make its embeddings random) although no gradient reaches it.
            was_training = self._src_ae.training
            self._src_ae.eval()
            try:
                with torch.no_grad():
                    zs = self._src_ae.encode(xs)
            finally:
                self._src_ae.train(was_training)
        if self._head is not None and self.sup_weight > 0:
            out["sup"] = F.cross_entropy(self._head(zs), self._ys[idx_s])
        if pseudo is not None:
            yt = pseudo[idx_t]
            kept = yt >= 0
            head = self._head if self._head is not None else self._pl_head
            if kept.any():  # a batch without a kept row computes no such term
                out["pseudo"] = F.cross_entropy(head(zt[kept]), yt[kept])
        if self._loss is not None and lam > 0:
            # A step that diverged is named as one (stage, epoch, advice), not by the input
            # check of the loss ("source contains NaN") or of the soft assignments ("z").
            stage, epoch = where
            for z in (zs, zt):
                check_embedding(z, stage=stage, epoch=epoch)
            probs_s = probs_t = None
            if self._conditional:  # soft assignments only for these (k may not be known yet)
                probs_s, probs_t = probs_fn(zs, zt)
            out["align"] = self._loss(zs, zt, **self._context(zs, probs_t, progress, probs_s))
            if zt.requires_grad and not getattr(out["align"], "requires_grad", False):
                # a detached value trains nothing: the run would be loss=None's, unnamed
                raise ValueError(
                    f"DTC: loss {type(self._loss).__name__} returned a value without a "
                    "gradient (detached, computed under torch.no_grad, or outside torch): "
                    "it cannot move the embeddings, so the run would be loss=None's (a "
                    "deliberate zero, e.g. during a warm-up, is 0 * target.sum(): the source "
                    "has no gradient with encoder_mode='asymmetric')"
                )
        return out

    def _soft_probs(
        self,
        centres: torch.Tensor | None = None,
        layer: nn.Module | None = None,
        *,
        cluster_space: bool = False,
        order: torch.Tensor | None = None,
        live: torch.Tensor | None = None,
    ):
        """Soft assignments for conditional losses, a function ``(zs, zt) -> (ps, pt)`` of
        source / target embeddings ``(n, d)`` giving ``(n, k)`` rows that sum to one: the
        source head's softmax when labels are used, else Student-t assignments (DEC's
        kernel) to the current target centres ``(k, d)`` (adaptation: K-means centres of
        the raw embedding; self-training, ``cluster_space=True``: the round's pseudo-label
        centres, which live in the clustering space) or, during refinement, to the
        clustering layer's centres (its columns reordered by ``order`` ``(k,)`` where given:
        the loss's numbering). Uniform only before any centres exist. ``live`` ``(k,)``
        bool: the centres that take mass; the others' columns are zero (a spherical
        self-training round's dead anchors, zero rows that name no pseudo-label)."""
        space = self._cluster_space if cluster_space else (lambda z: z)

        def probs(zs, zt):
            if self._head is not None:
                return F.softmax(self._head(zs), 1), F.softmax(self._head(zt), 1)
            if layer is not None:
                ps, pt = layer(self._cluster_space(zs)), layer(self._cluster_space(zt))
                return (ps, pt) if order is None else (ps[:, order], pt[:, order])
            if centres is None:
                return self._uniform_probs(zs), self._uniform_probs(zt)
            ps, pt = soft_assignment(space(zs), centres), soft_assignment(space(zt), centres)
            if live is None:
                return ps, pt
            return tuple(q * live / (q * live).sum(1, keepdim=True) for q in (ps, pt))

        return probs

    def _current_centres(self, k: int, previous: torch.Tensor | None = None) -> torch.Tensor:
        """K-means centres ``(k, latent)`` of the target embedding; from ``previous`` (the
        last epoch's centres) where given, so that centre ``c`` stays cluster ``c``: a
        class-conditional discriminator's weights are tied to the cluster indices, which
        restarts from k-means++ permuted from epoch to epoch."""
        Zt = embed(self._tgt_ae.encoder, self._Xt)
        if previous is None:
            _, centres, _ = kmeans(Zt, k, seed=self.seed)
        else:
            _, centres, _ = kmeans(Zt, k, init=previous.cpu().numpy(), seed=self.seed)
        return torch.as_tensor(np.asarray(centres), dtype=torch.float32, device=self._device)

    def _target_encoder(self, method: str) -> nn.Module:
        """The target's autoencoder; ``NotFittedError`` naming ``method`` before a fit (or
        after a failed one), where the networks are missing."""
        ae = getattr(self, "_tgt_ae", None)
        if ae is None:
            # scikit-learn's error (a ValueError too), which callers catch by its class
            raise NotFittedError(f"DTC.{method}: call fit first (no target encoder yet)")
        return ae

    def discrepancy(self) -> float:
        """The biased MMD (DAN's kernels) between the source and target embeddings of the
        fit's fixed subsamples (up to 256 rows each), as the networks stand: the
        ``discrepancy`` of ``history_``, callable from callbacks during the fit (the
        monitor reads it at the start of adaptation, before any epoch has logged one).
        Draws no random numbers.

        NaN where DAN's bandwidth is undefined: fewer than 2 source rows, or most of the
        source's embeddings coincide (their median distance is 0). A diagnostic failed the
        whole fit there, whatever the alignment loss; a bandwidth from elsewhere (the
        pooled median) would change the kernel from one epoch to the next, and with it the
        scale on which the monitor's ``adapt`` sees the discrepancy fall.
        """
        target_ae = self._target_encoder("discrepancy")
        with torch.no_grad():
            zs = torch.from_numpy(embed(self._src_ae.encoder, self._Xs[self._sub[0]]))
            median = float(median_sq_dist(zs)) if zs.shape[0] >= 2 else 0.0
            if not median > 0:
                return math.nan
            zt = torch.from_numpy(embed(target_ae.encoder, self._Xt[self._sub[1]]))
            # the median just taken, as the loss's own heuristic would take it again
            value = MMDLoss(estimator="biased", bandwidth=median)(zs, zt)
        return float(value)

    def _step(
        self, loss, parts: dict, sums: dict, stage: str, epoch: int, rows: dict | None = None
    ) -> None:
        """One optimiser step on ``loss``; adds the batch's ``parts`` to ``sums`` (name ->
        ``[total, rows]``, see :func:`_epoch_means`), each weighted by the rows it averages
        (``rows``: name -> count, where it is not the batch's size), so that an epoch's mean
        is over rows, as pretraining's (the batches of both domains have one size, but for
        the pseudo-label loss's kept rows)."""
        try:
            check_finite(loss, stage=stage, epoch=epoch)
        except FloatingPointError:
            align = parts.get("align")
            if align is None or torch.isfinite(align.detach()).all():
                raise
            # the alignment loss itself gave no number: learning-rate advice would mislead
            raise FloatingPointError(
                f"{stage}: the alignment loss {type(self._loss).__name__} returned "
                f"{float(align.detach())} at epoch {epoch}: the loss on this batch, or an "
                "embedding that diverged before it"
            ) from None
        self._opt.zero_grad()
        loss.backward()
        self._opt.step()
        for name, v in parts.items():
            w = 1 if rows is None or name not in rows else rows[name]
            total = sums.setdefault(name, [0.0, 0])
            total[0] += float(v.detach()) * w
            total[1] += w

    def _adapt(self) -> None:
        self._opt = torch.optim.Adam(
            self._param_groups([self._head, self._loss]), weight_decay=self.weight_decay
        )
        self._adapting = True
        self._notify("on_adapt_begin")
        gen = make_generator(self.seed + 2)
        epochs, steps = self.adapt_epochs, self._steps_per_epoch()
        with progress_bar(self.verbose) as bar:
            task = bar.add_task("adapt", total=epochs, info="")
            for epoch in range(epochs):
                if self._conditional and self._head is None:
                    self._adapt_centres = self._current_centres(self._k, self._adapt_centres)
                centres = self._adapt_centres
                sums: dict[str, list] = {}
                n_steps, lam_sum = 0, 0.0
                for idx_s, idx_t in self._batches(gen):
                    # fraction of adaptation done, rising steadily over all its batches
                    progress = (epoch + n_steps / steps) / epochs
                    lam = self._lambda(progress)
                    lam_sum += lam
                    parts = self._step_losses(
                        ("adapt", epoch), idx_s, idx_t, lam, progress, self._soft_probs(centres)
                    )
                    loss = self.recon_weight * parts["recon"]
                    loss = (
                        loss
                        + self.sup_weight * parts.get("sup", 0.0)
                        + lam * parts.get("align", 0.0)
                    )
                    self._step(loss, parts, sums, "adapt", epoch)
                    n_steps += 1
                logs = {"stage": "adapt", "epoch": epoch}
                logs.update(_epoch_means(sums))
                logs["lambda"] = lam_sum / n_steps  # the mean weight the epoch applied
                logs["discrepancy"] = self.discrepancy()
                self.history_.append(logs)
                bar.update(task, advance=1, info=f"align {logs.get('align', 0):.3f}")
                self._notify("on_adapt_epoch_end", epoch, logs)
                if self.stop_training_:
                    break
        self._notify("on_adapt_end")
        centres, self._adapt_centres, self._adapting = self._adapt_centres, None, False
        if self._tracks_numbering() and centres is not None:
            # the partition the discriminator last saw: each row's nearest centre (the
            # Student-t assignments' argmax); after on_adapt_end, which may restore an
            # earlier state (the monitor's rollback), whose networks and centres it must
            # describe
            Zt = torch.from_numpy(embed(self._tgt_ae.encoder, self._Xt)).to(centres.device)
            self._numbering = torch.cdist(Zt, centres).argmin(1).cpu()
        self._opt = None

    # -- stage 2b ---------------------------------------------------------------
    def _self_train_anchors(self, Zt: np.ndarray, centres) -> np.ndarray:
        """Starting centres of a round: source class means (labelled), else the previous
        round's centres, else the centres of the configured clusterer on the target."""
        if self._ys is not None:
            Zs = embed(self._src_ae.encoder, self._Xs)
            ys = self._ys.cpu().numpy()
            return np.stack([Zs[ys == c].mean(0) for c in range(len(self._classes))])
        if centres is not None:
            return centres
        # in the clustering space, as the final clustering: unit rows when spherical (the
        # raw rows' clusters agreed with the unit rows' at ARI 0.43 to 0.49 on digits)
        return self._run_clusterer(unit_rows(Zt) if self.spherical else Zt, self._k, None)[1]

    def _self_train(self) -> None:
        """Iterative self-training (see :mod:`dtc.self_training`): pseudo-label the target
        by anchored (spherical) K-means, keep the confident class-balanced part, train the
        head and encoder on source labels + pseudo-labels, repeat."""
        head = self._head if self._head is not None else self._pl_head
        self._opt = torch.optim.Adam(
            self._param_groups([head, self._loss]), weight_decay=self.weight_decay
        )
        gen = make_generator(self.seed + 4)
        # stop_training_ ended adaptation; here it ends self-training (after a round)
        self.stop_training_ = False
        centres, prev = None, None
        for rnd in range(self.self_training_rounds):
            # per round: a callback may have changed transfer_scale_ after the last one
            lam = self._lambda(1.0)
            Zt = embed(self._tgt_ae.encoder, self._Xt)
            init = self._self_train_anchors(Zt, centres)
            if self.spherical and not has_direction(init).any():
                # a collapsed encoder (every ReLU dead): no anchor has a direction, and
                # pseudo_labels refuses them; the final clustering goes on (it warns of
                # the embedding's few distinct rows), as without self-training
                warn(
                    f"DTC: self-training stopped at round {rnd}: every anchor is zero in the "
                    "embedding (the encoder maps the rows they are made of to zero), so "
                    "spherical pseudo-labels have no direction to come from",
                    RuntimeWarning,
                )
                break
            labels, keep, centres = pseudo_labels(
                Zt, init, fraction=self.pseudo_label_confidence, spherical=self.spherical
            )
            perm = self._renumber(labels)
            if perm is not None:  # the round's clusters under the loss's numbering
                labels, centres = perm[labels], np.asarray(centres)[np.argsort(perm)]
            if self._tracks_numbering():
                self._numbering = torch.as_tensor(labels, dtype=torch.long)
            changed = 1.0 if prev is None else label_change_fraction(prev, labels)
            prev = labels
            pseudo = torch.as_tensor(np.where(keep, labels, -1), device=self._device)
            # A conditional loss without a source head conditions on Student-t assignments
            # to this round's centres (the classes the pseudo-labels name), as adaptation
            # does to its K-means centres; uniform probabilities would reduce CDAN to DANN
            # and JMMD to MMD. The centres live where pseudo_labels found them: unit rows
            # when spherical, hence the clustering space. A dead anchor (no direction)
            # stays a zero centre that takes no point: every unit row is one away from it,
            # so the Student-t kernel would give it mass (twice a live centre's share of a
            # zero row's), hence live.
            live = has_direction(centres) if self.spherical else None
            probs = self._soft_probs(
                torch.as_tensor(centres, dtype=torch.float32, device=self._device),
                cluster_space=True,
                live=None
                if live is None or live.all()
                else torch.as_tensor(live, device=self._device),
            )
            for epoch in range(self.self_training_epochs):
                sums: dict[str, list] = {}
                for idx_s, idx_t in self._batches(gen):
                    parts = self._step_losses(
                        ("self_train", epoch), idx_s, idx_t, lam, 1.0, probs, pseudo=pseudo
                    )
                    loss = (
                        self.recon_weight * parts["recon"]
                        + self.sup_weight * parts.get("sup", 0.0)
                        + self.pseudo_weight * parts.get("pseudo", 0.0)
                        + lam * parts.get("align", 0.0)
                    )
                    # the pseudo-label loss is a mean over the batch's kept rows
                    rows = {"pseudo": int((pseudo[idx_t] >= 0).sum())}
                    self._step(loss, parts, sums, "self_train", epoch, rows=rows)
                logs = {"stage": "self_train", "round": rnd, "epoch": epoch}
                logs.update(_epoch_means(sums))
                logs.update(kept=float(keep.mean()), changed=float(changed))
                logs["lambda"] = lam
                self.history_.append(logs)
            self._notify("on_self_train_round_end", rnd, logs)
            if self.stop_training_:
                break
        self._opt = None

    # -- stage 3 ----------------------------------------------------------------
    def _cluster(self, k: int | None) -> None:
        Z = embed(self._tgt_ae.encoder, self._Xt)  # the head's input
        Zs = embed(self._src_ae.encoder, self._Xs)
        if not (np.isfinite(Z).all() and np.isfinite(Zs).all()):
            # a last training step that diverged (the loss is checked before each step):
            # K-means of the embedding blamed its input X
            raise FloatingPointError(
                "DTC: the trained encoder embeds rows at NaN or Inf (the last training step "
                "diverged); lower the learning rate or the alignment weight"
            )
        Zt = Z  # the clustering space
        if self.spherical:
            # cosine geometry: K-means on unit rows is spherical K-means up to the
            # centres' norms (Dhillon & Modha, Machine Learning 2001)
            Zt, Zs = unit_rows(Z), unit_rows(Zs)
        if k is None:
            k = self._k if self._k is not None else _select_k(Zt, self.seed)
        if k > len(Zt):
            raise ValueError(f"DTC: n_clusters={k} but the target has only {len(Zt)} samples")
        self.n_clusters_ = k
        init, names, class_means = None, None, None
        if self._ys is not None:
            ys = self._ys.cpu().numpy()
            class_means = np.stack([Zs[ys == c].mean(0) for c in range(len(self._classes))])
        if self.model_transfer:
            if self._ys is not None:
                init = class_means
                names = self._classes.astype(np.int64)
            else:
                self._check_source_centres(k, len(Zs))
                _, init, _ = kmeans(Zs, k, seed=self.seed)
        labels, centres = self._run_clusterer(Zt, k, init)
        # The centre of a source class the head gives no target row: the clusterer's centre
        # named after it (model transfer), else the source class mean; not the clusterer's
        # c-th centre, which without model transfer stands for no class in particular.
        by_class = centres if init is not None else class_means
        if self.final_labels == "head" and self._head is not None:
            labels = self._head_argmax(Z, k)
            centres, names = _class_means(Zt, labels, by_class), self._classes.astype(np.int64)
        elif self.final_labels == "head_clusters" and self._head is not None:
            labels, centres, names = self._clusters_named_by_head(Z, Zt, k, labels, centres)
        elif self.final_labels == "head_spread" and self._head is not None:
            scores = label_spreading(
                Zt,
                self._head_probs(Z, k),
                n_neighbors=_graph_neighbours(len(Zt)),
                alpha=self.spread_alpha,
                # the approximate neighbour search of a large target (as the spectral
                # clusterer's): its default 0 drew the same at every seed
                seed=self.seed,
            )
            labels = scores.argmax(1).astype(np.int64)
            centres, names = _class_means(Zt, labels, by_class), self._classes.astype(np.int64)
        self.labels_ = np.asarray(labels, dtype=np.int64)
        self.cluster_centers_ = np.asarray(centres, dtype=np.float32)
        if names is not None:
            self.cluster_classes_ = names

    @staticmethod
    def _check_source_centres(k: int, n_source: int) -> None:
        """Unlabelled model transfer starts the target's ``k`` centres at K-means centres of
        the source, which needs at least ``k`` source rows."""
        if k > n_source:
            raise ValueError(
                f"DTC: model_transfer=True without source labels starts the target centres at "
                f"{k} K-means centres of the source, but the source has only {n_source} "
                f"samples; set model_transfer=False or n_clusters <= {n_source}"
            )

    def _head_argmax(self, Z: np.ndarray, k: int) -> np.ndarray:
        """``(n,)`` index into ``self._classes`` of the head's most probable source class
        for every row of the target embedding ``Z`` ``(n, d)``."""
        return self._head_probs(Z, k).argmax(1).astype(np.int64)

    def _head_probs(self, Z: np.ndarray, k: int) -> np.ndarray:
        """``(n, k)`` head probabilities over the source classes (column ``c`` =
        ``self._classes[c]``) of every row of the target embedding ``Z`` ``(n, d)``."""
        if len(self._classes) != k:
            raise ValueError(
                f"DTC: final_labels={self.final_labels!r} labels the target by the "
                f"{len(self._classes)} source classes, but n_clusters={k}; set "
                f"n_clusters={len(self._classes)} or final_labels='cluster'"
            )
        with torch.no_grad():
            z = torch.from_numpy(Z).to(self._device)
            logits = self._head(z)
        return torch.softmax(logits, 1).cpu().numpy().astype(np.float64)

    def _clusters_named_by_head(self, Z: np.ndarray, Zt: np.ndarray, k: int, clusters, fallback):
        """The clusterer's partition kept, each cluster named one-to-one after the source
        class the head (fed the embedding ``Z``) predicts most often inside it
        (maximum-agreement matching), so that label ``c`` stands for ``self._classes[c]``.
        Returns labels ``(n,)``, centres ``(k, d)`` (means in the clustering space ``Zt``)
        and the class names ``(k,)``."""
        # the head's probabilities name a cluster it gives no more votes to than to another
        probs = self._head_probs(Z, k)
        to_class = _renumbering(clusters, probs.argmax(1), k, weights=probs)
        labels = to_class[np.asarray(clusters)]
        centres = _class_means(Zt, labels, np.asarray(fallback)[np.argsort(to_class)])
        return labels, centres, self._classes.astype(np.int64)

    def _run_clusterer(self, Z: np.ndarray, k: int, init):
        if self.clusterer == "kmeans":
            start = "k-means++" if init is None else init
            labels, centres, _ = kmeans(Z, k, init=start, seed=self.seed)
            return labels, centres
        if self.clusterer == "gmm":
            labels, _ = gmm(Z, k, means_init=init, seed=self.seed)
        else:
            labels = spectral_clustering(
                Z, k, n_neighbors=_graph_neighbours(len(Z)), seed=self.seed
            )
        labels = np.asarray(labels)
        centres = _class_means(Z, labels, np.repeat(Z.mean(0, keepdims=True), k, axis=0))
        if init is not None:
            # Name each cluster after the nearest source centre (one-to-one), so that
            # cluster c still stands for source class / cluster c.
            cost = squared_differences(centres, np.asarray(init))
            rows, cols = linear_sum_assignment(cost)
            perm = np.empty(k, dtype=np.int64)
            perm[rows] = cols
            labels, centres = perm[labels], centres[np.argsort(perm)]
        return labels, centres

    def _cluster_state(self) -> dict:
        out = {
            "labels": torch.from_numpy(self.labels_),
            "centres": torch.from_numpy(self.cluster_centers_),
            "k": int(self.n_clusters_),
        }
        if hasattr(self, "cluster_classes_"):
            out["classes"] = torch.from_numpy(self.cluster_classes_)
        return out

    def _set_cluster_state(self, state: dict) -> None:
        self.labels_ = state["labels"].numpy()
        self.cluster_centers_ = state["centres"].numpy()
        self.n_clusters_ = int(state["k"])
        if "classes" in state:
            self.cluster_classes_ = state["classes"].numpy()

    # -- stage 4 ----------------------------------------------------------------
    def _cluster_space(self, z: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(n, k)`` in the space the clusters live in: unit rows when
        ``spherical`` (where ``_cluster`` found the centres DEC/IDEC start from)."""
        return F.normalize(z, dim=1) if self.spherical else z

    @torch.no_grad()
    def _assign(self, layer: nn.Module, epoch: int) -> torch.Tensor:
        """DEC's soft assignments ``(n_target, n_clusters)`` of every target row."""
        z = torch.from_numpy(embed(self._tgt_ae.encoder, self._Xt)).to(self._device)
        check_embedding(z, stage="refine", epoch=epoch)
        return layer(self._cluster_space(z))

    def _refine(self) -> None:
        layer = ClusteringLayer(self.n_clusters_, self._tgt_ae.n_latent)
        layer.init_centers(self.cluster_centers_)
        layer.to(self._device)
        self._opt = torch.optim.Adam(
            self._param_groups([self._head, self._loss, layer]), weight_decay=self.weight_decay
        )
        gen = make_generator(self.seed + 3)
        prev = self.labels_.copy()
        # the clustering layer's centre c is the loss's cluster perm[c]: its columns, reordered
        perm = self._renumber(self.labels_)
        order = None if perm is None else torch.as_tensor(np.argsort(perm), device=self._device)
        p_all = None
        epochs = self.refine_epochs
        for epoch in range(epochs):
            if epoch % self.update_interval == 0:
                q_all = self._assign(layer, epoch)
                p_all = target_distribution(q_all)
                labels = q_all.argmax(1).cpu().numpy()
                changed = label_change_fraction(prev, labels)
                prev = labels
                if epoch > 0 and changed < self.tol:
                    self.history_.append(
                        {"stage": "refine", "epoch": epoch, "changed": changed, "stopped": True}
                    )
                    break
            sums: dict[str, list] = {}
            probs = self._soft_probs(layer=layer, order=order)
            for idx_s, idx_t in self._batches(gen):
                lam = self._lambda(1.0)
                # IDEC's two terms of one embedding z = f(x): encoded again, the KL term saw
                # other dropout masks and a batch norm updated its statistics twice a step
                zt = []
                parts = self._step_losses(
                    ("refine", epoch), idx_s, idx_t, lam, 1.0, probs, embedding=zt
                )
                z_refine = self._cluster_space(zt[0])
                check_embedding(z_refine, stage="refine", epoch=epoch)
                q = layer(z_refine)
                parts["kl"] = dec_loss(q, p_all[idx_t])
                # IDEC's objective (Guo et al., IJCAI 2017): L = L_r + gamma * L_c, the
                # clustering loss weighted against the reconstruction, which keeps the
                # embedding's local structure; DEC: the clustering loss alone.
                if self.refine == "idec":
                    loss = parts["recon"] + self.idec_gamma * parts["kl"]
                else:
                    loss = parts["kl"]
                loss = loss + self.sup_weight * parts.get("sup", 0.0)
                loss = loss + lam * parts.get("align", 0.0)
                self._step(loss, parts, sums, "refine", epoch)
            logs = {"stage": "refine", "epoch": epoch, "changed": changed}
            logs.update(_epoch_means(sums))
            logs["discrepancy"] = self.discrepancy()
            self.history_.append(logs)
        self.labels_ = self._assign(layer, epochs).argmax(1).cpu().numpy().astype(np.int64)
        warn_if_fewer_clusters(
            self.labels_,
            len(layer.centers),
            f"DTC(refine={self.refine!r})",
            "no row's soft assignment peaks at the others' centres",
        )
        self.cluster_centers_ = layer.centers.detach().cpu().numpy().astype(np.float32)
        self._opt = None
