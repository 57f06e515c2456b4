"""The interface every alignment loss follows.

A loss is a :class:`torch.nn.Module` called as ``loss(source, target, **context)``
and returning a scalar tensor, where

``source``  ``(n_s, d)`` features (or embeddings) of the source batch;
``target``  ``(n_t, d)`` features of the target batch;
``context`` keyword arguments: ``progress`` a float in [0, 1] (fraction of training
            done, for schedules), always passed by :class:`dtc.pipeline.DTC`; and,
            only to a loss whose ``conditional`` attribute is true, ``source_probs``
            ``(n_s, k)`` / ``target_probs`` ``(n_t, k)`` soft assignments (rows sum
            to one). The pipeline passes nothing else: no source labels (when it uses
            them, ``source_probs`` is the softmax of its source classifier head).

A loss takes ``**context`` and ignores what it does not use, so a new context key
never breaks an existing loss. A loss that owns trainable parameters (a domain
discriminator) exposes them through the usual ``parameters()``; the pipeline
optimises them with the encoder.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AlignmentLoss", "check_loss_value", "check_pair_inputs"]


def _all_finite(x: torch.Tensor) -> bool:
    """Whether ``x`` holds no NaN / Inf, in one reduction pass without a boolean copy.

    A sum is finite exactly when no element is NaN or Inf, unless finite values overflow
    when added; only then is the elementwise test needed.
    """
    with torch.no_grad():
        if bool(torch.isfinite(x.sum())):
            return True
        return bool(torch.isfinite(x).all())


def check_loss_value(value, who: str) -> None:
    """``ValueError`` naming ``who`` (e.g. ``"DTC: loss MMDLoss"``) unless ``value``, what
    a loss returned, is a real floating-point tensor of one value: a vector failed in
    ``backward`` with torch's "grad can be implicitly created only for scalar outputs", a
    complex value with "... real scalar outputs", neither naming the loss."""
    if not (isinstance(value, torch.Tensor) and value.numel() == 1):
        got = f"shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else repr(value)
        raise ValueError(f"{who} must return a scalar tensor (one value for the batch), got {got}")
    if not value.dtype.is_floating_point:
        raise ValueError(f"{who} must return a real floating-point scalar, got dtype {value.dtype}")


def check_pair_inputs(
    source: torch.Tensor,
    target: torch.Tensor,
    *,
    min_samples: int = 1,
    name: str = "loss",
    same_dtype: bool = True,
):
    """Validate a ``(n_s, d)`` / ``(n_t, d)`` pair; raise ``ValueError`` naming what is wrong.

    Each of ``source`` and ``target`` must be a 2-d floating-point tensor with at least
    ``min_samples`` rows, at least one column and no NaN / Inf; ``target`` must have the
    dtype (unless not ``same_dtype``: for a caller that widens the rows it uses), device
    and ``d`` of ``source``. Nothing is converted: a loss that accepts other inputs
    converts them before calling this.
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
    if same_dtype and target.dtype != source.dtype:
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
    if source.device.type == "meta":
        # shapes without values: the finiteness test below would fail in torch's words
        raise ValueError(
            f"{name}: source and target are tensors on the 'meta' device, which hold no values"
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
    ``min_samples``      the fewest samples per domain any call takes, checked before
                         ``compute``; a loss whose need depends on its options checks
                         more in ``compute``, saying why (``SinkhornLoss`` 2 rows per
                         domain with ``normalize="mean"``, 2 in one of them with
                         ``"max"``; a pytorch-adapt ``MMDLoss`` 3 source rows without
                         ``bandwidth``).

    A loss whose ``__init__`` takes ``**params`` for something it builds (as
    :class:`~dtc.align.interop.PytorchAdaptLoss` a layer) may define a classmethod
    ``check_loss_params(params: dict)`` raising ``ValueError``: DTC calls it with its
    ``loss_params`` when its parameters are checked (a config loading), before any run.

    Examples
    --------
    A loss of one's own, the squared distance between the batch means (the linear-kernel
    MMD); :meth:`forward` checks the pair before :meth:`compute` sees it:

    >>> import torch
    >>> class MeanDistance(AlignmentLoss):
    ...     def compute(self, source, target, **context):
    ...         return (source.mean(0) - target.mean(0)).pow(2).sum()
    >>> loss = MeanDistance()
    >>> loss(torch.zeros(4, 3), torch.ones(5, 3)).item()
    3.0
    >>> loss(torch.zeros(4, 3), torch.ones(5, 2))
    Traceback (most recent call last):
        ...
    ValueError: MeanDistance: source has 3 features and target has 2; expected the same ...

    In a module of its own (``my_losses.py``) it is ``DTC(loss="my_losses:MeanDistance")``,
    and ``dtc bench-losses --losses mmd,my_losses:MeanDistance`` ranks it against the
    built-in losses (README, "Benchmark your own alignment loss").
    """

    conditional: bool = False
    has_parameters: bool = False
    min_samples: int = 1

    def forward(self, source: torch.Tensor, target: torch.Tensor, **context) -> torch.Tensor:
        """The loss of one batch: validates the pair, then returns :meth:`compute`'s value.

        Parameters
        ----------
        source : tensor of shape (n_s, d)
            Source features or embeddings, floating point, finite, ``n_s >= min_samples``.
        target : tensor of shape (n_t, d)
            Target features, same dtype, device and ``d`` as ``source``,
            ``n_t >= min_samples``.
        **context
            Keyword context (module docstring), passed to :meth:`compute` unchanged.

        Returns
        -------
        tensor of shape () (one element)
            Differentiable with respect to ``source`` and ``target``; the pipeline adds it,
            weighted, to the training loss.

        Raises
        ------
        ValueError
            From :func:`check_pair_inputs` when the pair breaks the rules above.
        """
        check_pair_inputs(source, target, min_samples=self.min_samples, name=type(self).__name__)
        return self.compute(source, target, **context)

    def compute(
        self, source: torch.Tensor, target: torch.Tensor, **context
    ) -> torch.Tensor:  # pragma: no cover
        """The loss itself, what a subclass implements; called by :meth:`forward` with a
        validated pair: ``source`` ``(n_s, d)``, ``target`` ``(n_t, d)`` and the keyword
        ``context``. Accept ``**context`` even when using none of it (the pipeline passes
        ``progress`` to every loss).

        Must return a scalar tensor (``numel() == 1``) built from ``source`` and ``target``
        by differentiable operations, and finite. What :class:`dtc.pipeline.DTC` relies on:
        it calls the loss once on 4 rows per domain before training (a non-scalar result is
        a ``ValueError`` there; ``min_samples`` above 4, or above the batch size, fails
        that call or a training batch), reads ``conditional`` to decide whether to pass
        ``source_probs`` / ``target_probs``, optimises ``parameters()`` with the encoder
        (an adversarial loss reverses the gradient itself, e.g. with
        :class:`dtc.align.grl.GradientReversal`), and stops with ``FloatingPointError`` on
        a NaN / Inf value. The registry (:func:`dtc.align.register`, the ``dtc.losses``
        entry points, a ``"module:Class"`` name) needs an ``nn.Module`` subclass whose
        constructor takes the settings as keyword arguments (``loss_params``); an instance
        passed as ``loss`` is deep-copied at every fit.
        """
        raise NotImplementedError
