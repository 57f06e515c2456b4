"""Autoencoder + K-means: the deep two-stage baselines, without and with feature transfer.

An autoencoder (:mod:`dtc.nn`: an MLP ``d-hidden-n_latent`` with the mirrored decoder,
or the small convolutional one for image rows) is trained to reconstruct its data
(mean squared error, Adam; optionally denoising, Vincent et al., ICML 2008), and the
target is clustered by K-means (:func:`dtc.cluster.kmeans.kmeans`) of its embeddings. Two
variants:

``ae_kmeans`` (:class:`TargetAEKMeans`)
    the autoencoder is trained on the **target** only: the deep no-transfer reference
    (the "AE + k-means" baseline of Guo et al., IJCAI 2017: the start of DEC, Xie et
    al., ICML 2016, whose own table lists k-means on the pixels and "DEC w/o backprop");
``source_ae_kmeans`` (:class:`SourceAEKMeans`)
    the autoencoder is trained on the **source** only and applied to the target:
    *feature-representation transfer* (Pan & Yang, "A survey on transfer learning",
    IEEE TKDE 2010, Sec. 3.2; the self-taught learning of Raina, Battle, Lee, Packer &
    Ng, ICML 2007, which learns the representation on other, unlabelled data). The
    source labels are not used.

Small by default (``"mlp"``: hidden 128-64, 10 latent units): the benchmarks here hold a
few hundred to a few thousand samples per domain; ``hidden`` and ``n_latent`` scale it up
(``architecture="dec"`` is DEC's d-500-500-2000-10; until the thirty-sixth session the
default sizes overrode the presets, and "dec" built d-128-64-10 too). It trains for 200 epochs
(:data:`PRETRAIN_EPOCHS`), the pretraining of Guo et al.'s DEC and IDEC code (IJCAI 2017),
also for DEC and IDEC here (:mod:`baselines.dec`). With 50, the default before the
thirty-fourth session, the reconstruction error was still 1.2 to 8.1 times its value after
800 epochs (SURF's caltech10 and dslr; 2.6 on the digits target, 4.0 and 4.4 on COIL); with
200, 1.1 to 3.1 (dslr, 2 SGD steps an epoch; COIL 2.0). Mean of seeds 0 and 1, no labels
read: ``scripts/ae_budget.py``.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from baselines._validation import check_number, check_positive_int, check_seed, store_params
from dtc.cluster.kmeans import kmeans, warn_if_fewer_clusters
from dtc.data.domain import Domain
from dtc.methods import TransferClusterer
from dtc.nn import (
    build_autoencoder,
    check_architecture,
    check_device,
    deterministic,
    embed,
    pretrain_autoencoder,
)

__all__ = [
    "PRETRAIN_EPOCHS",
    "SourceAEKMeans",
    "TargetAEKMeans",
    "check_autoencoder_params",
    "train_autoencoder",
]

# Pretraining epochs of the autoencoder baselines (and DEC / IDEC): Guo et al.'s code's.
PRETRAIN_EPOCHS = 200


#: The baselines' own "mlp" (and "conv" embedding width) when ``hidden`` / ``n_latent``
#: are None: small, for benchmarks of a few hundred to a few thousand samples per domain.
MLP_HIDDEN, MLP_LATENT = (128, 64), 10


def check_autoencoder_params(
    est: TransferClusterer, *, epochs, epochs_name: str = "epochs"
) -> tuple[tuple[int, ...] | None, int | None]:
    """The data-free checks of the autoencoder parameters of ``est`` (``architecture``,
    ``hidden``, ``n_latent``, ``batch_size``, ``lr``, ``noise``, ``seed``) and of ``epochs``
    (``est``'s parameter ``epochs_name``); returns the ``(hidden, n_latent)`` to build with:
    ``None`` takes ``"mlp"``'s :data:`MLP_HIDDEN` / :data:`MLP_LATENT` (``"conv"``: its
    ``n_latent`` too) and a preset's own sizes (``"dec"``, ``"small"``). Sizes an
    architecture would ignore are refused: ``hidden`` with ``"conv"`` or a module,
    ``n_latent`` with a module. Whether the architecture fits the data is checked when it
    is built (it needs the data's width)."""
    name = type(est).__name__
    arch = est.architecture
    check_architecture(arch, method=name)
    check_positive_int(epochs, method=name, name=epochs_name, low=0)
    check_positive_int(est.batch_size, method=name, name="batch_size")
    hidden, n_latent = est.hidden, est.n_latent
    if n_latent is not None:
        n_latent = check_positive_int(n_latent, method=name, name="n_latent")
    if hidden is not None:
        if not isinstance(hidden, (list, tuple)) or not hidden:
            raise ValueError(
                f"{name}: hidden must be None or a non-empty list of layer sizes, got {hidden!r}"
            )
        hidden = tuple(check_positive_int(h, method=name, name="hidden") for h in hidden)
    module = not isinstance(arch, str)
    # ignored before: architecture="dec" built this baseline's d-128-64-10 all the same
    if hidden is not None and (module or arch == "conv"):
        raise ValueError(
            f"{name}: hidden sets the MLP architectures' widths; architecture="
            f"{'a module' if module else repr(arch)} fixes its own, so hidden must be None"
        )
    if n_latent is not None and module:
        raise ValueError(f"{name}: n_latent must be None with a module architecture (its own)")
    check_device(est.device, name)
    check_number(est.lr, method=name, name="lr", strict=True)
    check_number(est.noise, method=name, name="noise", low=0.0)
    check_seed(est.seed, method=name)
    if arch == "mlp":
        hidden = MLP_HIDDEN if hidden is None else hidden
    if arch in ("mlp", "conv") and n_latent is None:
        n_latent = MLP_LATENT
    return hidden, n_latent


def train_autoencoder(
    est: TransferClusterer, domain: Domain, *, epochs: int, stage: str, epochs_name: str = "epochs"
):
    """Build and train the autoencoder described by ``est``'s parameters (``architecture``,
    ``hidden``, ``n_latent``, ``batch_size``, ``lr``, ``noise``, ``seed``, ``device``) on
    ``domain.X``; returns ``(autoencoder, history)``. Reproducible for a seed. ``epochs_name``
    is ``est``'s parameter that gave ``epochs``, for the error message."""
    name = type(est).__name__
    hidden, n_latent = check_autoencoder_params(est, epochs=epochs, epochs_name=epochs_name)
    arch = est.architecture
    if isinstance(arch, torch.nn.Module):
        # never train the user's instance in place (as DTC): a refit started from the
        # trained weights, and get_params / clone carried them
        arch = copy.deepcopy(arch)
    with deterministic(est.seed, est.device):
        try:
            ae = build_autoencoder(
                arch,
                domain.n_features,
                image_shape=domain.image_shape,
                hidden=hidden,
                n_latent=n_latent,
            )
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from exc
        history = pretrain_autoencoder(
            ae,
            domain.X,
            epochs=epochs,
            batch_size=est.batch_size,
            lr=est.lr,
            noise=est.noise,
            seed=est.seed,
            device=est.device,
            stage=stage,
        )
    return ae, history


class _AEKMeans(TransferClusterer):
    """Autoencoder trained on ``_train_on`` (``"target"`` or ``"source"``), K-means of the
    target's embeddings.

    Parameters
    ----------
    n_clusters : int, optional
        ``None`` takes the pair's ``n_clusters``.
    architecture : "mlp", "dec", "small", "conv" or nn.Module, default "mlp"
        See :func:`dtc.nn.build_autoencoder` (``"conv"`` needs ``Domain.image_shape``).
    hidden : sequence of int or None, default None
        Hidden widths of the MLP encoder (the decoder mirrors them); ``None``: (128, 64) for
        ``"mlp"``, the preset's for ``"dec"`` / ``"small"``; refused with ``"conv"`` or a
        module, which fix their own.
    n_latent : int or None, default None
        Embedding width; ``None``: 10 for ``"mlp"`` and ``"conv"``, the preset's for
        ``"dec"`` / ``"small"``; refused with a module.
    epochs : int, default 200
        Pretraining epochs (:data:`PRETRAIN_EPOCHS`).
    batch_size : int, default 128
    lr : float, default 1e-3
        Adam's learning rate.
    noise : float, default 0.0
        Std of the Gaussian input corruption (denoising autoencoder when > 0).
    n_init : int, default 10
        K-means restarts.
    seed : int, default 0
        Fixes weights, batch order and K-means: equal seeds give equal labels (CPU).
    device : str, optional
        ``None``: CUDA when available, else CPU.

    Attributes
    ----------
    labels_ : ndarray of shape (n_target,)
    embedding_ : ndarray of shape (n_target, n_latent)
    cluster_centers_ : ndarray of shape (n_clusters, n_latent)
    history_ : list of dict
        Per pretraining epoch: ``stage``, ``epoch``, ``recon``.
    autoencoder_ : dtc.nn.Autoencoder
    """

    _train_on = "target"

    def __init__(
        self,
        n_clusters=None,
        architecture="mlp",
        hidden=None,
        n_latent=None,
        epochs=PRETRAIN_EPOCHS,
        batch_size=128,
        lr=1e-3,
        noise=0.0,
        n_init=10,
        seed=0,
        device=None,
    ):
        store_params(self, locals())

    def check_params(self) -> None:
        self._check_n_clusters()
        self._check_params()
        check_autoencoder_params(self, epochs=self.epochs)

    def _check_params(self) -> int:
        """Validated ``n_init``; the autoencoder's parameters are checked by
        :func:`train_autoencoder`."""
        return check_positive_int(self.n_init, method=type(self).__name__, name="n_init")

    def _fit(self, pair):
        k = self._n_clusters(pair)
        n_init = self._check_params()
        domain = pair.source if self._train_on == "source" else pair.target
        ae, self.history_ = train_autoencoder(
            self, domain, epochs=self.epochs, stage=f"pretrain ({self._train_on})"
        )
        # left in evaluation mode, as DTC's: a forward pass of the fitted network gives
        # embedding_ (no dropout) and leaves batch norm's running statistics alone
        self.autoencoder_ = ae.eval()
        self.embedding_ = embed(ae.encoder, pair.target.X)
        labels, centers, _ = kmeans(self.embedding_, k, n_init=n_init, seed=self.seed)
        self.labels_ = np.asarray(labels, dtype=np.int64)
        self.cluster_centers_ = np.asarray(centers)
        # features too small for the network (1e-10) leave every row's embedding at the
        # biases' one point: K-means put them in one cluster, with only scikit-learn's
        # warning of "duplicate points" to say so
        warn_if_fewer_clusters(
            self.labels_,
            k,
            type(self).__name__,
            "the autoencoder embeds the target's rows at fewer distinct points than that "
            "(features of too small a scale for the network? standardise them)",
        )


def _shared_doc() -> str:
    # _AEKMeans's docstring less its first lines; "" under python -OO, which strips
    # docstrings (the module failed to import there, and the methods with it)
    return (_AEKMeans.__doc__ or "\n\n").split("\n", 2)[2]


class TargetAEKMeans(_AEKMeans):
    __doc__ = (
        "Autoencoder trained on the target, K-means of its embeddings (no transfer; the "
        "AE + k-means baseline of Guo et al., IJCAI 2017; DEC's start).\n" + _shared_doc()
    )
    _train_on = "target"
    uses_source = False
    accepts_heterogeneous = True  # the source is never looked at


class SourceAEKMeans(_AEKMeans):
    __doc__ = (
        "Autoencoder trained on the source only, applied to the target, K-means of the "
        "target's embeddings (feature-representation transfer: Pan & Yang, IEEE TKDE 2010, "
        "Sec. 3.2; source labels unused).\n" + _shared_doc()
    )
    _train_on = "source"
    uses_source = True
