"""CDAN and CDAN+E: adversarial alignment conditioned on soft cluster assignments
(Long, Cao, Wang & Jordan, "Conditional Adversarial Domain Adaptation", NeurIPS 2018).

The discriminator sees the multilinear map ``f ⊗ g`` of features ``f`` ``(d,)`` and
soft assignments ``g`` ``(k,)`` (``source_probs`` / ``target_probs`` in the context), so
aligning it aligns the joint distribution of features and clusters rather than the
features' marginal. For large ``d * k`` the randomized map ``(f R_f) ⊙ (g R_g) /
sqrt(m)`` with fixed Gaussian ``R_f`` ``(d, m)``, ``R_g`` ``(k, m)`` approximates its
inner products. CDAN+E weights each sample by ``1 + exp(-H(g))`` so confident
assignments count more. The adversarial game is DANN's: see :mod:`dtc.align.dann`.

Gradients. As in the authors' implementation (``thuml/CDAN``, ``pytorch/loss.py``,
function ``CDAN``), the ``g`` inside the map is detached: the discriminator's gradient
shapes the features, not the cluster assignments. The CDAN+E weights are computed from
the detached ``g`` as well by default (``entropy_gradient=False``): no gradient reaches the
assignments, and the weights only rescale the per-sample terms. The authors' code keeps the
entropy ``H(g)`` in the graph and attaches a reversed gradient to it (``-coeff`` times it,
the reversal coefficient of the features), so the assignments are also trained,
adversarially, through the weights; ``entropy_gradient=True`` does that. The values agree
either way: both normalise the weights within each domain by their detached sum.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
from torch import nn

from dtc._validation import check_bool, check_probability_rows, check_seed, is_int_at_least
from dtc.align.dann import AdversarialLoss
from dtc.align.discriminator import check_feature_width, check_in_features, domain_bce
from dtc.align.grl import grad_reverse

__all__ = [
    "CDANELoss",
    "CDANLoss",
    "RandomizedMultilinearMap",
    "entropy_weights",
    "multilinear_map",
    "soft_assignments",
]


def multilinear_map(features: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """Row-wise outer product: ``features`` ``(n, d)``, ``probs`` ``(n, k)`` -> ``(n, k * d)``
    with ``out[i, a * d + b] = probs[i, a] * features[i, b]`` (``kron(g_i, f_i)``)."""
    return (probs.unsqueeze(2) * features.unsqueeze(1)).reshape(features.shape[0], -1)


class RandomizedMultilinearMap(nn.Module):
    """Randomized multilinear map ``(f R_f) ⊙ (g R_g) / sqrt(out_dim)`` (Long et al.,
    NeurIPS 2018).

    ``R_f`` ``(in_features, out_dim)`` and ``R_g`` ``(n_clusters, out_dim)`` are standard
    Gaussian, drawn once from ``seed`` (buffers, saved with the state dict); when
    ``in_features`` or ``n_clusters`` is ``None`` they are drawn at the first call.
    ``E[<T(f, g), T(f', g')>] = <f, f'> <g, g'>``.

    ``forward(features (n, d), probs (n, k))`` -> ``(n, out_dim)``.
    """

    def __init__(
        self,
        in_features: int | None = None,
        n_clusters: int | None = None,
        out_dim: int = 1024,
        seed: int = 0,
    ):
        super().__init__()
        if not is_int_at_least(out_dim, 1):
            # (CDANLoss checks its randomized_dim, which it passes here, itself)
            raise ValueError(
                f"RandomizedMultilinearMap: out_dim must be a positive int, got {out_dim!r}"
            )
        # torch's manual_seed refused it at the first call, naming neither CDAN nor seed
        check_seed(seed, owner="RandomizedMultilinearMap")
        self.out_dim = out_dim
        self.seed = seed
        # A size given is a size checked, also while the other is left to the first call
        self.in_features = check_in_features(in_features)
        self.n_clusters = check_in_features(n_clusters, "n_clusters")
        self.register_buffer("features_matrix", None)
        self.register_buffer("probs_matrix", None)
        if in_features is not None and n_clusters is not None:
            self._draw(in_features, n_clusters)

    def _draw(self, in_features: int, n_clusters: int) -> None:
        # A private generator: reproducible from `seed` and leaves the global RNG alone.
        # float32 whatever the default dtype: under a float64 default the same seed drew
        # other matrices (forward casts them to the features' dtype anyway)
        g = torch.Generator().manual_seed(self.seed)
        draw = {"generator": g, "dtype": torch.float32}
        self.features_matrix = torch.randn(in_features, self.out_dim, **draw)
        self.probs_matrix = torch.randn(n_clusters, self.out_dim, **draw)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A lazily drawn map saved after its first call: make room for the saved matrices.
        for name in ("features_matrix", "probs_matrix"):
            if getattr(self, name) is None and prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, features: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        # The matrices are kept: made under the caller's inference_mode they would be
        # inference tensors, which no later training call can save for backward.
        with torch.inference_mode(False):
            if self.features_matrix is None:  # a declared size, else the batch's
                d, k = self.in_features, self.n_clusters
                self._draw(
                    features.shape[1] if d is None else d, probs.shape[1] if k is None else k
                )
            if self.features_matrix.device != features.device:
                # Drawn lazily on the CPU after the module moved (or moved alone): keep the
                # moved copy, rather than copy both matrices to the device at every call.
                self.features_matrix = self.features_matrix.to(features.device)
                self.probs_matrix = self.probs_matrix.to(features.device)
        # torch's own error (mat1 and mat2 shapes cannot be multiplied) names neither input
        for role, x, matrix, size in (
            ("features", features, self.features_matrix, "in_features"),
            ("probs", probs, self.probs_matrix, "n_clusters"),
        ):
            if x.shape[-1] != matrix.shape[0]:
                raise ValueError(
                    f"RandomizedMultilinearMap: {role} have {x.shape[-1]} columns, but the map "
                    f"was drawn for {size}={matrix.shape[0]} (given, or inferred at its first call)"
                )
        r_f = self.features_matrix.to(features.dtype)
        r_g = self.probs_matrix.to(features.dtype)
        return (features @ r_f) * (probs @ r_g) / self.out_dim**0.5

    def extra_repr(self) -> str:
        return f"out_dim={self.out_dim}, seed={self.seed}"


def entropy_weights(probs: torch.Tensor, reverse_coeff: float | None = None) -> torch.Tensor:
    """CDAN+E weights (Long et al., NeurIPS 2018) ``1 + exp(-H(g))`` with
    ``H(g) = -sum_j g_j log g_j``:
    ``probs`` ``(n, k)`` -> ``(n,)`` in ``[1 + 1/k, 2]``. With ``reverse_coeff`` the
    gradient reaching ``H`` is multiplied by ``-reverse_coeff`` on its way back (the
    authors' gradient reversal hook on the entropy); the values are the same up to rounding."""
    if reverse_coeff is None:
        entropy = -torch.special.xlogy(probs, probs).sum(dim=1)
    else:
        # p log p with the log's argument floored at the smallest normal number: the value
        # of xlogy (0 at p = 0) up to rounding, but a finite gradient where an assignment
        # underflowed to 0 (xlogy's is -inf there, and training turns to NaN).
        tiny = torch.finfo(probs.dtype).tiny
        entropy = grad_reverse(-(probs * probs.clamp_min(tiny).log()).sum(dim=1), reverse_coeff)
    return 1.0 + torch.exp(-entropy)


def soft_assignments(context: dict, role: str, n: int, owner: str) -> torch.Tensor:
    """``context[role + "_probs"]`` checked to be ``(n, k)`` rows of probabilities."""
    key = f"{role}_probs"
    probs = context.get(key)
    if probs is None:
        raise ValueError(
            f"{owner} is conditional: it needs {key} ({n}, k) soft cluster assignments in the "
            f"context, got keys {sorted(context)}"
        )
    if not isinstance(probs, torch.Tensor) or probs.dim() != 2 or probs.shape[0] != n:
        shape = tuple(probs.shape) if isinstance(probs, torch.Tensor) else type(probs).__name__
        raise ValueError(f"{owner}: {key} must be a ({n}, k) tensor, got {shape}")
    return check_probability_rows(probs, f"{owner}: {key}")


class CDANLoss(AdversarialLoss):
    """CDAN (Long et al., NeurIPS 2018) conditioned on soft cluster assignments.

    ``in_features`` the feature dimension ``d`` and ``n_clusters`` the number of clusters
    ``k`` (``None``: inferred at the first call); ``randomized`` use the randomized
    multilinear map with ``randomized_dim`` outputs (advised when ``d * k`` exceeds a few
    thousand) drawn from ``seed``; ``entropy_conditioning`` the CDAN+E weights, and
    ``entropy_gradient`` whether they pass a reversed gradient to the assignments, as in the
    authors' code (see the module docstring); ``hidden``, ``dropout``, ``max_coeff``,
    ``schedule``, ``gamma`` as in :class:`~dtc.align.dann.DANNLoss`.

    ``loss(source (n_s, d), target (n_t, d), source_probs=(n_s, k), target_probs=(n_t, k),
    progress=p)`` -> scalar.
    """

    conditional = True

    def __init__(
        self,
        in_features: int | None = None,
        n_clusters: int | None = None,
        hidden: Sequence[int] = (256, 256),
        dropout: float = 0.0,
        randomized: bool = False,
        randomized_dim: int = 1024,
        entropy_conditioning: bool = False,
        entropy_gradient: bool = False,
        max_coeff: float = 1.0,
        schedule: str = "dann",
        gamma: float = 10.0,
        seed: int = 0,
    ):
        # not bool(): the string "no" is truthy
        flags = ("randomized", "entropy_conditioning", "entropy_gradient")
        randomized, entropy_conditioning, entropy_gradient = (
            check_bool(v, method=type(self).__name__, name=n)
            for v, n in zip((randomized, entropy_conditioning, entropy_gradient), flags)
        )
        rd = randomized_dim  # checked whether or not used: -5 passed while randomized=False
        # and numpy's ints taken as ints; seed checked and kept whether or not used too
        seed = check_seed(seed, owner=type(self).__name__)
        if not is_int_at_least(rd, 1):
            raise ValueError(
                f"{type(self).__name__}: randomized_dim must be a positive int, got {rd!r}"
            )
        if entropy_gradient and not entropy_conditioning:
            raise ValueError(
                "entropy_gradient=True needs entropy_conditioning=True (CDAN+E): CDAN has no "
                "entropy weights to pass a gradient through"
            )
        in_features = check_in_features(in_features)
        n_clusters = check_in_features(n_clusters, "n_clusters")
        if randomized:
            mapper = RandomizedMultilinearMap(in_features, n_clusters, randomized_dim, seed)
            disc_in = mapper.out_dim
        else:
            mapper = None
            disc_in = None if None in (in_features, n_clusters) else in_features * n_clusters
        super().__init__(disc_in, hidden, dropout, max_coeff, schedule, gamma)
        self.seed = seed
        self.in_features = in_features
        self.n_clusters = n_clusters
        self.randomized_map = mapper
        self.entropy_conditioning = entropy_conditioning
        self.entropy_gradient = entropy_gradient
        self._sizes: tuple[int, int] | None = None  # (d, k) checked at each call

    # The sizes of the first call travel with the state dict, as the discriminator's weights
    # do: a loaded lazy loss took (3, 5) after weights trained on (5, 3).
    def get_extra_state(self):
        return {"sizes": None if self._sizes is None else list(self._sizes)}

    def set_extra_state(self, state) -> None:
        sizes = state.get("sizes") if isinstance(state, dict) else None
        if sizes is None:
            self._sizes = None
            return
        owner = type(self).__name__
        # written from a call that went through: two positive ints, never None
        if not (
            isinstance(sizes, (list, tuple))
            and len(sizes) == 2
            and all(is_int_at_least(v, 1) for v in sizes)
        ):
            raise ValueError(
                f"{owner}: the saved sizes must be two positive ints (d, k), got {sizes!r}"
            )
        d, k = int(sizes[0]), int(sizes[1])
        for name, saved, declared in (
            ("in_features", d, self.in_features),
            ("n_clusters", k, self.n_clusters),
        ):
            if declared is not None and saved != declared:
                # (5, 3) weights load into a (3, 5) loss: the widths agree, not the sizes
                raise ValueError(
                    f"{owner}: the state was saved with {name}={saved}, this loss has "
                    f"{name}={declared}"
                )
        self._sizes = (d, k)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, *a):
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, *a)
        # A state saved before the sizes were kept (the weights alone) still loads: the
        # sizes are then those of its next call, as for a fresh lazy loss (a loss called
        # before kept its own, and took the loaded weights in its old layout)
        key = prefix + "_extra_state"
        if key not in state_dict:
            self._sizes = None
            if key in missing:
                missing.remove(key)

    def condition(self, features: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        """The discriminator's input: ``(n, d)``, ``(n, k)`` -> ``(n, k * d)`` or
        ``(n, randomized_dim)``."""
        if self.randomized_map is None:
            return multilinear_map(features, probs)
        return self.randomized_map(features, probs)

    def compute(self, source, target, **context):
        owner = type(self).__name__
        raw_s = soft_assignments(context, "source", source.shape[0], owner)
        raw_t = soft_assignments(context, "target", target.shape[0], owner)
        probs_s, probs_t = raw_s.detach(), raw_t.detach()
        if probs_s.shape[1] != probs_t.shape[1]:
            raise ValueError(
                f"{owner}: source_probs has {probs_s.shape[1]} clusters and target_probs "
                f"{probs_t.shape[1]}; expected the same number"
            )
        # The sizes given, else those of the first call: the discriminator checks only
        # k * d, and (d, k) = (5, 3) then (3, 5) fed it columns of other meanings.
        sizes = self._sizes or (
            source.shape[1] if self.in_features is None else self.in_features,
            probs_s.shape[1] if self.n_clusters is None else self.n_clusters,
        )
        d, k = sizes
        how = "" if self.n_clusters is not None else " (inferred at its first call)"
        if probs_s.shape[1] != k:
            raise ValueError(
                f"{owner}: the soft assignments have {probs_s.shape[1]} columns, expected "
                f"n_clusters={k}{how}"
            )
        try:
            check_feature_width(source, d)
        except ValueError as exc:
            how = "" if self.in_features is not None else " (inferred at its first call)"
            raise ValueError(f"{owner}: {exc}{how}") from None
        probs_s, probs_t = probs_s.to(source), probs_t.to(target)
        progress = context.get("progress")
        logits_s, logits_t = self.discriminate(
            self.condition(source, probs_s), self.condition(target, probs_t), progress
        )
        self._sizes = sizes  # kept once a call went through (a refused one changes nothing)
        if not self.entropy_conditioning:
            return domain_bce(logits_s, logits_t)
        if self.entropy_gradient:  # the authors' CDAN+E: a reversed gradient through H(g)
            coeff = self.grl.coefficient(progress)
            w_s = entropy_weights(raw_s.to(source), reverse_coeff=coeff)
            w_t = entropy_weights(raw_t.to(target), reverse_coeff=coeff)
        else:
            w_s, w_t = entropy_weights(probs_s), entropy_weights(probs_t)
        return domain_bce(logits_s, logits_t, w_s, w_t)


class CDANELoss(CDANLoss):
    """CDAN+E (Long et al., NeurIPS 2018): :class:`CDANLoss` with entropy conditioning,
    each sample weighted by
    ``1 + exp(-H(g))`` (normalised within its domain). The weights carry no gradient unless
    ``entropy_gradient=True`` (the authors' code); see the module docstring. Parameters
    and call as in :class:`CDANLoss`, less ``entropy_conditioning`` (always on)."""

    def __init__(self, *args, **params):
        if "entropy_conditioning" in params:
            raise ValueError("CDANELoss always uses entropy conditioning; use CDANLoss to choose")
        # by the signature below (CDANLoss's without entropy_conditioning): positional
        # arguments as it reads them, CDANLoss(3, 2) and CDANELoss(3, 2) alike (a bare
        # "takes 1 positional argument" where the signature took them)
        try:
            bound = inspect.signature(CDANELoss.__init__).bind(self, *args, **params)
        except TypeError as exc:  # inspect's words name no class ("too many ...")
            raise TypeError(f"CDANELoss: {exc}") from None
        del bound.arguments["self"]
        super().__init__(entropy_conditioning=True, **bound.arguments)


# CDANLoss's keywords but entropy_conditioning: a config's loss_params are checked against
# the signature when it loads, and **params took any typo until each run failed
CDANELoss.__init__.__signature__ = inspect.signature(CDANLoss.__init__).replace(
    parameters=[
        p
        for name, p in inspect.signature(CDANLoss.__init__).parameters.items()
        if name != "entropy_conditioning"
    ]
)
