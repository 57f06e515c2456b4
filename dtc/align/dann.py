"""DANN: domain-adversarial alignment (Ganin, Ustinova, Ajakan, Germain, Larochelle,
Laviolette, Marchand & Lempitsky, "Domain-Adversarial Training of Neural Networks",
JMLR 2016).

How the returned loss trains both players: the value is the discriminator's
domain-classification cross-entropy (:func:`~dtc.align.discriminator.domain_bce`) on
``GRL(features)``. The pipeline *minimises* it jointly over the encoder and
``loss.parameters()`` (the discriminator's): the discriminator's gradient is the
ordinary one, so it learns to separate the domains, while the gradient reaching the
features passes the gradient reversal layer and is multiplied by ``-coeff``, so the
encoder *maximises* the discriminator's error and the domains become indistinguishable.
A fooled discriminator scores ``log 2``; lower values mean separable domains.

The schedule ramps the reversal coefficient only: the discriminator's own update is not
scaled by it (as in Transfer-Learning-Library's warm-start reversal layer), where the
paper's Algorithm 1 scales the discriminator's step by ``lambda`` too. The pipeline's alignment
weight ``lam`` multiplies the whole loss, both players' gradients alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dtc.align.base import AlignmentLoss
from dtc.align.discriminator import (
    DomainDiscriminator,
    check_feature_width,
    check_in_features,
    domain_bce,
)
from dtc.align.grl import GradientReversal

__all__ = ["AdversarialLoss", "DANNLoss"]


class AdversarialLoss(AlignmentLoss):
    """Shared machinery of the adversarial losses: a gradient reversal layer
    (:class:`~dtc.align.grl.GradientReversal`) in front of a
    :class:`~dtc.align.discriminator.DomainDiscriminator` with ``disc_in_features``
    inputs (``None``: inferred lazily at the first call).
    """

    has_parameters = True

    def __init__(
        self,
        disc_in_features: int | None,
        hidden: Sequence[int],
        dropout: float,
        max_coeff: float,
        schedule: str,
        gamma: float,
    ):
        super().__init__()
        self.grl = GradientReversal(max_coeff, schedule=schedule, gamma=gamma)
        self.discriminator = DomainDiscriminator(disc_in_features, hidden, dropout)

    def discriminate(
        self, source_inputs: torch.Tensor, target_inputs: torch.Tensor, progress=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Discriminator logits ``(n_s,)``, ``(n_t,)`` of ``GRL(inputs)`` (inputs ``(n_s, m)``,
        ``(n_t, m)``, ``m`` the discriminator's input width); one pass over the
            concatenated batch so batch-dependent layers see both domains."""
        n_s = source_inputs.shape[0]
        logits = self.discriminator(self.grl(torch.cat([source_inputs, target_inputs]), progress))
        return logits[:n_s], logits[n_s:]


class DANNLoss(AdversarialLoss):
    """DANN loss on features (Ganin et al., JMLR 2016); see the module docstring for how
    minimising it trains the encoder adversarially.

    ``in_features`` the feature dimension ``d`` (``None``: inferred at the first call);
    ``hidden`` the discriminator's hidden widths; ``dropout`` its dropout;
    ``max_coeff``, ``schedule`` (``"dann"`` needs ``progress`` in the context, or
    ``"constant"``), ``gamma``: the reversal coefficient, see
    :class:`~dtc.align.grl.GradientReversal`.

    ``loss(source (n_s, d), target (n_t, d), progress=p)`` -> scalar.
    """

    def __init__(
        self,
        in_features: int | None = None,
        hidden: Sequence[int] = (256, 256),
        dropout: float = 0.0,
        max_coeff: float = 1.0,
        schedule: str = "dann",
        gamma: float = 10.0,
    ):
        in_features = check_in_features(in_features)
        super().__init__(in_features, hidden, dropout, max_coeff, schedule, gamma)
        self.in_features = in_features

    def compute(self, source, target, **context):
        check_feature_width(source, self.in_features)
        return domain_bce(*self.discriminate(source, target, context.get("progress")))
