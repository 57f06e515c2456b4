"""Joint MMD (JMMD) over several feature sets, e.g. features and soft assignments.

Long et al., "Deep Transfer Learning with Joint Adaptation Networks", ICML 2017: the
joint distribution of layers ``z^1, ..., z^L`` is embedded with the *product* kernel
``k(z_i, z_j) = prod_l k_l(z^l_i, z^l_j)``, each ``k_l`` a Gaussian multi-kernel of
its layer; JMMD^2 is the squared MMD under that kernel. The estimators (``"biased"``,
``"unbiased"`` -- which can be negative -- and the linear-time ``"linear"``) and the
kernel/bandwidth conventions are those of :mod:`dtc.align.mmd`. With one layer JMMD
is MMD.

In dtc's clustering setting the second layer is the soft cluster assignment, so
JMMD aligns the joint distribution of features and clusters (a conditional loss).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dtc.align.base import AlignmentLoss, check_pair_inputs
from dtc.align.cdan import soft_assignments
from dtc.align.kernels import DEFAULT_BLOCK_SIZE, sigmas_to_gammas
from dtc.align.mmd import (
    _MIN_SAMPLES,
    DEFAULT_MEDIAN,
    ESTIMATORS,
    GaussianFamily,
    _check_choice,
    _gaussian_mmd2,
    check_loss_options,
    check_median_used,
    unit_scaled_for_median,
)

__all__ = ["JMMDLoss", "jmmd2"]

# Soft assignments live in the simplex (squared distances in [0, 2]); a fixed bandwidth
# is the usual choice there (Transfer-Learning-Library's JAN uses sigma = 0.92).
DEFAULT_PROB_SIGMAS = (0.92,)


def _role_label(label: str, role: str) -> str:
    """The argument of ``role`` in a layer's ``label``: ``"source_probs / target_probs"``
    -> ``"target_probs"`` for the target, ``"features"`` -> ``"target features"``."""
    parts = label.split(" / ")
    if len(parts) == 2:
        return parts[role == "target"]
    return f"{role} {label}"


def _check_layers(sources, targets, name, min_samples, labels=None):
    """``labels`` name the layers in errors (default ``layer 0``, ``layer 1``, ...)."""
    if not isinstance(sources, (list, tuple)) or not isinstance(targets, (list, tuple)):
        raise ValueError(f"{name}: sources and targets must be lists of (n, d_l) tensors")
    if len(sources) != len(targets) or not sources:
        raise ValueError(
            f"{name}: expected as many source as target layers (at least one), got "
            f"{len(sources)} and {len(targets)}"
        )
    for layer, (x, y) in enumerate(zip(sources, targets)):
        label = labels[layer] if labels else f"layer {layer}"
        check_pair_inputs(x, y, min_samples=min_samples, name=f"{name} {label}")
        for role, t, ref in (("source", x, sources[0]), ("target", y, targets[0])):
            if t.shape[0] != ref.shape[0]:
                # named by the caller's arguments where labels give them: "target layer 1"
                # said nothing of target_probs
                this, first = (
                    (_role_label(label, role), _role_label(labels[0], role))
                    if labels
                    else (f"{role} layer {layer}", "layer 0")
                )
                raise ValueError(
                    f"{name}: {this} has {t.shape[0]} samples but {first} has "
                    f"{ref.shape[0]}; every layer must describe the same samples"
                )
        # The product kernel is accumulated in one dtype on one device.
        if x.dtype != sources[0].dtype or x.device != sources[0].device:
            raise ValueError(
                f"{name}: layer {layer} has dtype {x.dtype} on {x.device}, expected layer 0's "
                f"{sources[0].dtype} on {sources[0].device}"
            )


def _to_features(probs, features: torch.Tensor):
    # Only floating tensors: anything else is left for _check_layers to reject by name.
    if isinstance(probs, torch.Tensor) and probs.is_floating_point():
        return probs.to(features)
    return probs


def jmmd2(
    sources: Sequence[torch.Tensor],
    targets: Sequence[torch.Tensor],
    *,
    estimator: str,
    sigmas: Sequence[Sequence[float]],
    block_size: int | None = DEFAULT_BLOCK_SIZE,
) -> torch.Tensor:
    """Squared joint MMD; a 0-d tensor.

    ``sources[l]`` ``(n, d_l)`` and ``targets[l]`` ``(m, d_l)``: layer ``l`` of the source
    and target samples; ``sigmas[l]``: the Gaussian bandwidths of layer ``l``'s
    multi-kernel (uniform average of ``exp(-||a - b||^2 / (2 sigma^2))``); the joint
    kernel is the product over layers, so every layer must have layer 0's dtype and
    device. ``estimator`` as in :func:`dtc.align.mmd2`.
    Long et al., ICML 2017.
    """
    _check_choice(estimator, ESTIMATORS, "jmmd2: estimator")
    name = f"jmmd2 ({estimator})"
    _check_layers(sources, targets, name, _MIN_SAMPLES[estimator])
    if not isinstance(sigmas, (list, tuple)) or len(sigmas) != len(sources):
        raise ValueError(
            f"{name}: sigmas must be a list with one sequence of bandwidths per layer "
            f"({len(sources)}), got {sigmas!r}"
        )
    gammas = [sigmas_to_gammas(s, name=f"{name}: sigmas[{i}]") for i, s in enumerate(sigmas)]
    return _gaussian_mmd2(
        list(sources),
        list(targets),
        estimator=estimator,
        gammas=gammas,
        block_size=block_size,
        owner=name,
    )


class JMMDLoss(AlignmentLoss):
    """JMMD of (features, soft assignments) (JAN: Long et al., ICML 2017).

    ``loss(source, target, source_probs=..., target_probs=...)``: ``source`` ``(n_s, d)``,
    ``target`` ``(n_t, d)``, ``source_probs`` ``(n_s, k)``, ``target_probs`` ``(n_t, k)``
    -> 0-d tensor, the squared JMMD of ``estimator``. Floating-point assignments are
    converted to the features' dtype and device (e.g. a float64 softmax next to float32
    features), as :class:`~dtc.align.cdan.CDANLoss` does.

    Feature kernel: ``feature_scales`` (default DAN's 33) times the median heuristic
    (or ``feature_bandwidth``, one number like every ``*_bandwidth``), or fixed
    ``feature_sigmas``. Assignment kernel: fixed
    ``prob_sigmas`` (default ``(0.92,)``) or ``prob_scales`` times its own median
    heuristic / ``prob_bandwidth``. ``median``, ``median_max_samples`` and ``block_size``
    as in :class:`dtc.align.MMDLoss`. To reproduce pytorch-adapt's JMMD
    (``MMDLoss(kernel_scales=s)([f, p], ...)``) pass ``feature_scales=prob_scales=1/s``
    , ``median="source_with_diagonal"`` and ``estimator="linear"`` (its default
    ``mmd_type``; ``"unbiased"``, dtc's default, for ``mmd_type="quadratic"``).
    """

    conditional = True

    def __init__(
        self,
        estimator: str = "unbiased",
        feature_scales: Sequence[float] | None = None,
        feature_sigmas: Sequence[float] | None = None,
        feature_bandwidth: float | None = None,
        prob_scales: Sequence[float] | None = None,
        prob_sigmas: Sequence[float] | None = None,
        prob_bandwidth: float | None = None,
        median: str = DEFAULT_MEDIAN,
        median_max_samples: int = 4096,
        block_size: int | None = DEFAULT_BLOCK_SIZE,
    ):
        super().__init__()
        name = type(self).__name__  # a subclass is named in the messages
        check_loss_options(name, estimator, median, median_max_samples, block_size)
        self.estimator, self.median = estimator, median
        self.median_max_samples, self.block_size = median_max_samples, block_size
        self.min_samples = _MIN_SAMPLES[estimator]
        self.features = GaussianFamily(
            f"{name} features", feature_sigmas, feature_scales, feature_bandwidth, "feature_"
        )
        if prob_sigmas is None and prob_scales is None and prob_bandwidth is None:
            prob_sigmas = DEFAULT_PROB_SIGMAS
        self.probs = GaussianFamily(
            f"{name} probs", prob_sigmas, prob_scales, prob_bandwidth, "prob_"
        )
        check_median_used(name, median, [self.features, self.probs])

    def compute(self, source, target, *, source_probs=None, target_probs=None, **context):
        if source_probs is None or target_probs is None:
            raise ValueError(
                f"{type(self).__name__}: needs source_probs (n_s, k) and target_probs (n_t, k) "
                "in the context"
            )
        # The assignments follow the features' dtype and device, as in CDAN: a float64
        # softmax next to float32 features is converted here, not rejected.
        given = {"source_probs": source_probs, "target_probs": target_probs}
        source_probs, target_probs = (_to_features(p, source) for p in (source_probs, target_probs))
        xs, ys = [source, source_probs], [target, target_probs]
        _check_layers(
            xs,
            ys,
            type(self).__name__,
            self.min_samples,
            ["features", "source_probs / target_probs"],
        )
        # rows of probabilities, as CDAN asks: logits (or negative scores) would be
        # compared with the simplex's fixed bandwidth and give a number all the same.
        # Checked as given, to their own dtype's precision (as CDAN does): a bfloat16
        # softmax sums to 1 only within a few 1e-3, in whatever dtype it is converted to.
        for role, x in (("source", source), ("target", target)):
            soft_assignments(given, role, x.shape[0], type(self).__name__)
        source, target = unit_scaled_for_median(self.features, source, target)
        xs[0], ys[0] = source, target
        opts = dict(median=self.median, max_samples=self.median_max_samples)
        gammas = [
            self.features.gammas(source, target, **opts),
            self.probs.gammas(source_probs, target_probs, **opts),
        ]
        return _gaussian_mmd2(
            xs,
            ys,
            estimator=self.estimator,
            gammas=gammas,
            block_size=self.block_size,
            owner=type(self).__name__,
        )

    def extra_repr(self) -> str:
        return f"estimator={self.estimator!r}, features: {self.features}, probs: {self.probs}"
