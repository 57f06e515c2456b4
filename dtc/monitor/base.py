"""The callback interface of the DTC estimator (:class:`dtc.pipeline.DTC`).

A callback watches a fit and may steer the adaptation stage. Every hook is a no-op
here; override the ones you need and pass instances with ``DTC(callbacks=[...])``.

Hooks, in the order they are called:

``on_fit_begin(estimator, pair)``
    before pretraining; ``pair`` is what the method sees: target labels removed, and
    each domain preprocessed the way the networks see it (DTC's size normalisation and
    z-scoring).
``on_adapt_begin(estimator, state)``
    before the first adaptation epoch; ``state`` is ``estimator.get_state()``, the
    pretrained starting point (a deep copy: keep it to roll back to later).
``on_adapt_epoch_end(estimator, epoch, logs)``
    after each adaptation epoch; ``logs`` is that epoch's ``history_`` entry
    (``stage``, ``epoch``, losses, ``lambda``, ``discrepancy``).
``on_adapt_end(estimator)``
    once adaptation has ended (after its last epoch's ``on_adapt_epoch_end`` of every
    callback, so ``stop_training_`` is final), before self-training; it may still
    ``set_state``.
``on_self_train_round_end(estimator, round, logs)``
    after each self-training round (stage ``self_train``, when
    ``self_training_rounds > 0``); ``logs`` is the round's last ``history_`` entry
    (``stage``, ``round``, ``epoch``, losses, ``kept``, ``changed``, ``lambda``).
``on_fit_end(estimator)``
    after the final labels are set.
``on_fit_failed(estimator)``
    instead of the hooks still to come, when the fit raises after the callbacks'
    ``on_fit_begin`` (in training, or in another callback's hook): free what the callback
    holds for the fit (a snapshot of the networks).

What a callback may read: ``estimator.transform_target(X)``, the current target
embedding ``(n, k)`` of raw target rows ``X`` (the encoder as trained so far), and
``estimator.transform_target(X, preprocessed=True)`` for rows of the pair given to
``on_fit_begin``, which are already preprocessed.

What a callback may change on the estimator during adaptation (and self-training):

``estimator.transfer_scale_``  a float multiplying the alignment weight lambda
                               (1.0 at the start; lower it to damp the transfer);
``estimator.stop_training_``   set ``True`` to end adaptation after this epoch (or
                               self-training after this round; it is reset to
                               ``False`` when self-training starts);
``estimator.set_state(state)`` restore networks, alignment loss and optimiser from a
                               ``get_state()`` snapshot (roll back a bad epoch); in
                               ``on_fit_end`` it would restore the networks
                               only, not the labels and embedding already set.

Each hook runs in a fork of torch's random number generator: a callback's draws do not
move the fit's. The ``pair`` given to ``on_fit_begin`` holds read-only views of the arrays
the networks train on. A callback whose ``on_fit_failed`` raises is named in a warning;
the fit's own error is the one raised.
"""

from __future__ import annotations

__all__ = ["Callback"]


class Callback:
    """Base class of DTC callbacks: every hook does nothing."""

    def check_params(self) -> None:
        """The callback's data-free parameter checks (``ValueError`` naming the parameter).
        :meth:`dtc.pipeline.DTC.check_params` calls it, so that a config's bad callback is
        refused when the config loads, not once per run after its training began."""

    def on_fit_begin(self, estimator, pair) -> None:
        """Called once, before pretraining."""

    def on_adapt_begin(self, estimator, state: dict) -> None:
        """Called once, before the first adaptation epoch, with a snapshot of the state."""

    def on_adapt_epoch_end(self, estimator, epoch: int, logs: dict) -> None:
        """Called after every adaptation epoch with that epoch's log entry."""

    def on_adapt_end(self, estimator) -> None:
        """Called once adaptation has ended, after every callback saw its last epoch."""

    def on_self_train_round_end(self, estimator, round: int, logs: dict) -> None:
        """Called after every self-training round with its last epoch's log entry."""

    def on_fit_end(self, estimator) -> None:
        """Called once, after the labels are final."""

    def on_fit_failed(self, estimator) -> None:
        """Called once, when the fit raises after ``on_fit_begin``; no other hook follows."""
