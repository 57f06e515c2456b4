"""Gradient reversal (Ganin & Lempitsky, ICML 2015; Ganin et al., "Domain-Adversarial
Training of Neural Networks", JMLR 2016).

The layer is the identity going forward and multiplies the gradient by ``-coeff``
going backward, so one optimiser step on ``encoder + discriminator`` trains the
discriminator to tell the domains apart while training the encoder to fool it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dtc._validation import check_number

__all__ = ["SCHEDULES", "GradientReversal", "dann_schedule", "grad_reverse"]

SCHEDULES = ("dann", "constant")


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coeff):
        ctx.coeff = coeff
        # view_as: a new tensor object, so autograd records this node.
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return -ctx.coeff * grad_output, None


def grad_reverse(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Identity on ``x`` (any shape); the backward pass multiplies the gradient by ``-coeff``."""
    return _GradReverse.apply(x, check_number(coeff, "coeff", low=0.0))


def dann_schedule(progress: float, *, gamma: float = 10.0, max_coeff: float = 1.0) -> float:
    """DANN's coefficient ``max_coeff * (2 / (1 + exp(-gamma * p)) - 1)`` for ``p = progress``
    in [0, 1] (Ganin et al., JMLR 2016, the schedule of the adaptation parameter in the
    training procedure of its image-classification experiments, ``gamma = 10`` there):
    0 at the start, so the encoder is not pushed by a still-random discriminator, rising
    to ``max_coeff``."""
    p = check_number(progress, "progress", low=0.0, high=1.0)
    # as GradientReversal checks them: NaN gave NaN, an infinite gamma 1.0 from the start
    check_number(max_coeff, "max_coeff", low=0.0)
    check_number(gamma, "gamma", low=0.0, strict=True)
    return max_coeff * (2.0 / (1.0 + math.exp(-gamma * p)) - 1.0)


class GradientReversal(nn.Module):
    """Gradient reversal layer with a schedulable coefficient.

    ``schedule="dann"``: ``coeff(p) = max_coeff * (2 / (1 + exp(-gamma p)) - 1)``, which
    needs ``progress``; ``schedule="constant"``: ``coeff = max_coeff`` always.
    ``forward(x, progress=None)``: ``x`` any shape -> ``x`` unchanged.
    """

    def __init__(self, max_coeff: float = 1.0, *, schedule: str = "dann", gamma: float = 10.0):
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        self.max_coeff = check_number(max_coeff, "max_coeff", low=0.0)
        # gamma = 0 would hold the DANN coefficient at 0: no reversed gradient, ever.
        self.gamma = check_number(gamma, "gamma", low=0.0, strict=True)
        self.schedule = schedule

    def coefficient(self, progress: float | None = None) -> float:
        """The reversal coefficient at ``progress`` (a float in [0, 1])."""
        if self.schedule == "constant":
            return self.max_coeff
        if progress is None:
            raise ValueError(
                "progress (fraction of training done, in [0, 1]) is required by "
                "schedule='dann'; pass progress=... in the context or use schedule='constant'"
            )
        return dann_schedule(progress, gamma=self.gamma, max_coeff=self.max_coeff)

    def forward(self, x: torch.Tensor, progress: float | None = None) -> torch.Tensor:
        return _GradReverse.apply(x, self.coefficient(progress))

    def extra_repr(self) -> str:
        return f"max_coeff={self.max_coeff}, schedule={self.schedule!r}, gamma={self.gamma}"
