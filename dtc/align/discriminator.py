"""The domain discriminator and its classification loss, shared by the adversarial losses
(DANN, CDAN): Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 2016.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dtc._validation import check_number, is_int_at_least

__all__ = ["DomainDiscriminator", "check_feature_width", "check_in_features", "domain_bce"]


def check_in_features(value, name: str = "in_features") -> int | None:
    """``value`` if it is ``None`` (infer lazily) or a positive int; else ``ValueError``."""
    if value is None:
        return None
    if not is_int_at_least(value, 1):
        raise ValueError(f"{name} must be a positive int or None (inferred lazily), got {value!r}")
    return value


def check_feature_width(features: torch.Tensor, in_features: int | None) -> None:
    """``ValueError`` when ``features`` ``(n, d)`` does not have the declared ``in_features``."""
    if in_features is not None and features.shape[1] != in_features:
        raise ValueError(
            f"features have {features.shape[1]} columns, expected in_features={in_features}"
        )


class DomainDiscriminator(nn.Module):
    """MLP scoring how "source-like" each row is.

    ``in_features`` the input width, or ``None`` to infer it at the first call
    (``nn.LazyLinear``: run one forward pass before building an optimiser over its
    parameters); ``hidden`` the hidden widths (ReLU, optional dropout after each).

    ``forward(x)``: ``x`` ``(n, in_features)`` -> logits ``(n,)`` (> 0 means source).
    """

    def __init__(
        self,
        in_features: int | None = None,
        hidden: Sequence[int] = (256, 256),
        dropout: float = 0.0,
    ):
        super().__init__()
        in_features = check_in_features(in_features)
        # a list or tuple: None and a numpy int raised "not iterable", "" was no layers
        if not isinstance(hidden, (list, tuple)) or not all(is_int_at_least(h, 1) for h in hidden):
            raise ValueError(f"hidden must be a sequence of positive ints, got {hidden!r}")
        # [0, 1): p = 1 drops every unit. One message for every refusal: check_number's
        # own, "in [0.0, 1.0]" (of 1.5, -0.1 or NaN), said that 1.0 was allowed.
        try:
            ok = check_number(dropout, "dropout", low=0.0, high=1.0) < 1.0
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"dropout must be a number in [0.0, 1.0), got {dropout!r}")
        dropout = float(dropout)
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers.append(nn.LazyLinear(h) if width is None else nn.Linear(width, h))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.LazyLinear(1) if width is None else nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.net[0]
        # torch's own errors (mat1 and mat2 ...) name neither the dtype's nor the width's owner
        dtype = first.weight.dtype  # an uninitialised (lazy) weight has its dtype too
        # under the caller's torch.autocast, torch casts them itself (bfloat16 features of
        # float32 weights are what autocast makes)
        if dtype != x.dtype and not torch.is_autocast_enabled(x.device.type):
            raise ValueError(
                f"DomainDiscriminator: features are {x.dtype} but its weights are {dtype}; "
                f"pass {dtype} features or convert the loss (loss.to({x.dtype}))"
            )
        # a lazy layer takes the first call's width; after it, another width is refused
        if isinstance(first, nn.LazyLinear) and torch.is_inference_mode_enabled():
            # Its weights made under the caller's inference_mode would be inference
            # tensors, which no later training call can save for backward: made outside
            # it (the same draws from the global RNG, at the same point).
            with torch.inference_mode(False), torch.no_grad():
                first(torch.zeros(1, x.shape[-1], dtype=dtype, device=x.device))
        elif not isinstance(first, nn.LazyLinear) and first.in_features != x.shape[-1]:
            raise ValueError(
                f"DomainDiscriminator: features have {x.shape[-1]} columns, but it was "
                f"built for {first.in_features} (given, or inferred at its first call)"
            )
        return self.net(x).squeeze(-1)


def _weighted_mean(values: torch.Tensor, weights: torch.Tensor | None, name: str) -> torch.Tensor:
    if weights is None:
        return values.mean()
    # (n, 1) weights of (n,) logits broadcast to an (n, n) matrix: a mean n/2 times too
    # large, without an error
    if not isinstance(weights, torch.Tensor) or weights.shape != values.shape:
        got = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(
            f"domain_bce: {name} must be a tensor of the logits' shape {tuple(values.shape)}, "
            f"got {got}"
        )
    w = weights.detach()
    if not torch.isfinite(w).all() or (w < 0).any() or not w.sum() > 0:
        raise ValueError(
            f"domain_bce: {name} must be finite and non-negative with a positive sum "
            "(a weighted mean's weights)"
        )
    # The normaliser is a constant, as in the CDAN authors' code: weights that carry a
    # gradient (CDAN+E with entropy_gradient) are trained through their own terms only.
    return (weights * values).sum() / weights.sum().detach()


def domain_bce(
    source_logits: torch.Tensor,
    target_logits: torch.Tensor,
    source_weights: torch.Tensor | None = None,
    target_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Domain-classification cross-entropy with source = 1, target = 0.

    ``source_logits`` ``(n_s,)``, ``target_logits`` ``(n_t,)``, optional non-negative
    per-sample weights of the same shapes -> scalar
    ``(mean_s BCE(l, 1) + mean_t BCE(l, 0)) / 2`` (weighted means when weights are given,
    each normalised by its detached sum; weights of another shape than their logits, or
    negative, or summing to 0, are a ``ValueError``).
    Each domain counts half whatever its batch size, so unequal batches do not bias the
    discriminator; with equal batch sizes and no weights this is the BCE over the
    concatenated batch of Ganin et al. A discriminator that outputs 1/2 everywhere scores
    exactly ``log 2``.
    """
    bce_s = F.binary_cross_entropy_with_logits(
        source_logits, torch.ones_like(source_logits), reduction="none"
    )
    bce_t = F.binary_cross_entropy_with_logits(
        target_logits, torch.zeros_like(target_logits), reduction="none"
    )
    return 0.5 * (
        _weighted_mean(bce_s, source_weights, "source_weights")
        + _weighted_mean(bce_t, target_weights, "target_weights")
    )
