"""The interface every alignment loss follows.

A loss is a :class:`torch.nn.Module` called as ``loss(source, target, **context)``
and returning a scalar tensor, where

``source``  ``(n_s, d)`` features (or embeddings) of the source batch;
``target``  ``(n_t, d)`` features of the target batch;
``context`` optional keyword tensors that conditional losses use:
            ``source_probs`` ``(n_s, k)`` / ``target_probs`` ``(n_t, k)`` soft cluster
            assignments, ``source_labels`` ``(n_s,)`` integer source labels,
            ``progress`` a float in [0, 1] (fraction of training done, for schedules).

Unconditional losses ignore context they do not use, so the pipeline can pass the
same context to every loss. A loss that owns trainable parameters (a domain
discriminator) exposes them through the usual ``parameters()``; the pipeline
optimises them with the encoder.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AlignmentLoss", "check_pair_inputs"]


def _all_finite(x: torch.Tensor) -> bool:
    """Whether ``x`` holds no NaN / Inf, in one reduction pass without a boolean copy.

    A sum is finite exactly when no element is NaN or Inf, unless finite values overflow
    when added; only then is the elementwise test needed.
    """
    with torch.no_grad():
        if bool(torch.isfinite(x.sum())):
            return True
        return bool(torch.isfinite(x).all())


def check_pair_inputs(
    source: torch.Tensor, target: torch.Tensor, *, min_samples: int = 1, name: str = "loss"
):
    """Validate a ``(n_s, d)`` / ``(n_t, d)`` pair; raise ``ValueError`` naming what is wrong.

    Each of ``source`` and ``target`` must be a 2-d floating-point tensor with at least
    ``min_samples`` rows, at least one column and no NaN / Inf; ``target`` must have the
    dtype, device and ``d`` of ``source``. Nothing is converted: a loss that accepts other
    inputs converts them before calling this.
    """
    for role, x in (("source", source), ("target", target)):
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{name}: {role} must be a torch.Tensor, got {type(x)!r}")
        if x.dim() != 2:
            raise ValueError(f"{name}: {role} must have shape (n, d), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(
                f"{name}: {role} has dtype {x.dtype}, expected a floating-point dtype "
                "(e.g. torch.float32)"
            )
        if x.shape[1] < 1:
            raise ValueError(f"{name}: {role} has shape {tuple(x.shape)}, expected d >= 1 features")
        if x.shape[0] < min_samples:
            raise ValueError(
                f"{name}: {role} has {x.shape[0]} samples, expected at least {min_samples}"
            )
    if target.dtype != source.dtype:
        raise ValueError(
            f"{name}: target has dtype {target.dtype}, expected source's {source.dtype}"
        )
    if target.device != source.device:
        raise ValueError(
            f"{name}: target is on device {target.device}, expected source's {source.device}"
        )
    if source.shape[1] != target.shape[1]:
        raise ValueError(
            f"{name}: source has {source.shape[1]} features and target has {target.shape[1]}; "
            "expected the same feature dimension"
        )
    # Last: the only check that reads the data.
    for role, x in (("source", source), ("target", target)):
        if not _all_finite(x):
            raise ValueError(f"{name}: {role} contains NaN or Inf")


class AlignmentLoss(nn.Module):
    """Base class of dtc's alignment losses (subclassing it is optional for user losses:
    any ``nn.Module`` with the call signature above plugs in).

    Class attributes:

    ``conditional``      the loss uses soft assignments from ``context``;
    ``has_parameters``   the loss owns trainable parameters (e.g. a discriminator);
    ``min_samples``      the fewest samples per domain the estimate needs.
    """

    conditional: bool = False
    has_parameters: bool = False
    min_samples: int = 1

    def forward(self, source: torch.Tensor, target: torch.Tensor, **context) -> torch.Tensor:
        check_pair_inputs(source, target, min_samples=self.min_samples, name=type(self).__name__)
        return self.compute(source, target, **context)

    def compute(
        self, source: torch.Tensor, target: torch.Tensor, **context
    ) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError
