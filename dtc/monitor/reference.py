"""The no-transfer reference: what the target gives on its own, with the same network.

A negative-transfer monitor needs something to compare the transfer model with. The
reference is a *target-only* deep clustering with the transfer model's architecture and
training budget: an autoencoder trained on the target features alone (reconstruction,
the same optional denoising corruption), then K-means on its embeddings (the "AE +
k-means" baseline of IDEC, Guo, Gao, Liu & Yin, IJCAI 2017: the start of DEC, Xie, Girshick
& Farhadi, ICML 2016). Transfer is negative
when the transfer model's target partition is worse than this one.

The reference sees target *features* only, never target labels. It is cached: in
memory for the process, and optionally on disk (``cache_dir``), keyed by a SHA-256
fingerprint of the target features and of every setting that changes the result (the
``image_shape`` a convolutional network is built for included, the installed versions of
torch and scikit-learn, whose kernels can change the trained weights and the K-means
partition, and a cache-format version), so a grid of transfer runs on one target at one
training budget pays for it once. The monitor's budget (:meth:`NoTransferReference.from_estimator`)
is the transfer model's in gradient steps, which grow with the source's rows: sources of
different sizes for one target train one reference each (amazon, caltech10 and dslr for
webcam under the default DTC: 185, 218 and 67 epochs).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json
import numbers
import os
import uuid
import zipfile
import zlib
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans

from dtc._torch_state import cpu_kernels, training_defaults
from dtc._validation import (
    check_bool,
    check_features,
    check_image_shape,
    check_number,
    check_seed,
    forget_fit,
    is_int_at_least,
    user_path,
)
from dtc._warnings import warn
from dtc.data.files import not_numpy_file

__all__ = ["NoTransferReference", "clear_reference_cache", "fingerprint"]

# key -> {"labels", "embedding", "centres"}; process-wide, so every monitor shares it.
# Bounded, the least recently used entry first out: the key holds the seed and the
# budget, so a notebook looping over seeds added an entry per fit for the life of the
# process (0.65 MiB each at 5,000 rows). A grid on one target and seed still hits.
_MEMORY: dict[str, dict[str, np.ndarray]] = {}
_MEMORY_SIZE = 16
_MEMORY_BYTES = 256 * 2**20
# Part of every cache key. Bump it when what a key stands for changes (the training in
# _compute, the stored arrays), so that older disk entries are no longer found.
_CACHE_FORMAT = 3


def _remember(key: str, found: dict[str, np.ndarray]) -> None:
    """Keep ``found`` under ``key`` in :data:`_MEMORY`, as its most recent entry, within
    its bounds (an entry larger than all of them is not kept)."""
    _MEMORY.pop(key, None)
    size = sum(a.nbytes for a in found.values())
    if size > _MEMORY_BYTES:
        return
    while _MEMORY and (
        len(_MEMORY) >= _MEMORY_SIZE
        or sum(a.nbytes for e in _MEMORY.values() for a in e.values()) + size > _MEMORY_BYTES
    ):
        _MEMORY.pop(next(iter(_MEMORY)))  # the least recently used
    _MEMORY[key] = found


def _library_versions() -> dict[str, str]:
    """The installed versions of the libraries that compute a reference: torch trains the
    autoencoder, scikit-learn's K-means partitions its embedding (a release can change
    either result for the same settings)."""
    # Read from the installed packages' metadata (the key imports torch anyway, for the
    # thread count and the kernels it trains on).
    return {lib: importlib.metadata.version(lib) for lib in ("torch", "scikit-learn")}


def clear_reference_cache() -> None:
    """Forget every in-memory reference (the disk cache is left alone)."""
    _MEMORY.clear()


def fingerprint(X, settings: dict) -> str:
    """SHA-256 (hex) of the features ``X`` ``(n, d)`` (as float32) and a JSON-able ``settings``."""
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    h = hashlib.sha256()
    h.update(repr(X.shape).encode())
    h.update(X.tobytes())
    h.update(json.dumps(settings, sort_keys=True, default=_setting_json).encode())
    return h.hexdigest()


def _setting_json(value):
    # a numpy scalar by its value: its repr follows numpy's print options (legacy=), and
    # n_clusters=np.int64(3) and 3 are one reference
    return value.item() if isinstance(value, np.generic) else repr(value)


def _as(value, kind: type):
    """A numeric setting as ``kind``: a float setting's number as a float, an int
    setting's integer (numpy's too) as an int; anything else as given, so that a value the
    network builder refuses (``n_latent=4.5``) is no key of a cached reference of 4."""
    number = numbers.Integral if kind is int else numbers.Real
    if isinstance(value, number) and not isinstance(value, bool):
        return kind(value)
    return value


def _read_cached(path: Path, n: int, k: int) -> dict[str, np.ndarray] | None:
    """The cached reference in ``path``, or ``None`` (with a warning) when the file is
    damaged or holds arrays of other shapes than ``n`` rows and ``k`` clusters: it is then
    computed again and rewritten, rather than failing in numpy's words or, worse, read."""
    try:
        # opened here, closed whatever happens: np.load left its own file open when the
        # archive failed to open (a damaged zip version field: one descriptor each time)
        with path.open("rb") as fh:
            not_numpy = not_numpy_file(fh)
            if not_numpy:
                # else NumPy's advice to load it "unsafely using allow_pickle=" was passed on
                raise ValueError(f"not an .npz archive: {not_numpy}")
            loaded = np.load(fh, allow_pickle=False)  # a cache file runs no code
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                # a .npy array: `with` on it failed the fit in a TypeError
                raise ValueError("a single .npy array, not an .npz archive")
            with loaded as f:
                found = {name: f[name] for name in ("labels", "embedding", "centres")}
    # RuntimeError: zipfile's (NotImplementedError among them) for a damaged version,
    # compression method or flag, which failed the fit instead
    except (
        OSError,
        ValueError,
        KeyError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
        RuntimeError,
    ) as exc:
        problem = f"cannot be read ({exc})"
    else:
        emb = found["embedding"]
        if not all(isinstance(v, np.ndarray) for v in found.values()):
            # a member without a .npy header is returned as its bytes (no .shape)
            problem = "cannot be read (a member is no .npy array)"
        elif (
            found["labels"].shape == (n,)
            and emb.ndim == 2
            and emb.shape[0] == n
            and found["centres"].shape == (k, emb.shape[1])
        ):
            return found
        else:
            problem = "holds arrays of other shapes than this target's"
    warn(f"{path}: the cached reference {problem}; computing it again")
    return None


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save ``arrays`` as the ``.npz`` file ``path``: written to a temporary file of a
    unique name, then renamed over ``path`` (atomic). A reader never sees half a file, and
    two processes that write the same key never move or truncate each other's file (the
    last rename wins, with the same content)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A new file with the usual permissions (tempfile's would be private to this user).
    tmp = path.with_name(f"{path.stem}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class NoTransferReference(BaseEstimator):
    """Target-only autoencoder + K-means, cached (see the module docstring).

    A scikit-learn estimator (``get_params``, ``clone``, ``repr``), like the monitor that
    builds it.

    Parameters
    ----------
    n_clusters : int
    architecture, hidden, n_latent :
        As in :class:`dtc.pipeline.DTC` (:func:`dtc.nn.build_autoencoder`).
    epochs : int
        Reconstruction epochs on the target; :meth:`from_estimator` gives it the transfer
        model's whole budget: its gradient steps (pretraining, adaptation, self-training)
        in epochs of the target.
    batch_size, lr, weight_decay, noise, mask : as in DTC's pretraining.
        Their meaning, not their defaults: a reference built directly trains on batches
        of 256 (DTC's default is 64); :meth:`from_estimator` copies the estimator's
        values.
    n_init : int
        K-means restarts.
    seed : int
    cache_dir : path or None
        Also store / look up the reference as ``reference-<key>.npz`` there.

    Attributes
    ----------
    labels_ : (n,) int64 reference partition of the target
    embedding_ : (n, k) float32 target embeddings of the target-only autoencoder
    cluster_centers_ : (n_clusters, k) float32
    key_ : str, the cache key
    from_cache_ : bool, whether the result was found in a cache
    """

    def __init__(
        self,
        n_clusters: int,
        *,
        architecture="mlp",
        hidden=None,
        n_latent: int | None = None,
        epochs: int = 60,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        noise: float = 0.0,
        mask: float = 0.0,
        n_init: int = 10,
        seed: int = 0,
        cache_dir=None,
    ):
        self.n_clusters = n_clusters
        self.architecture = architecture
        self.hidden = hidden
        self.n_latent = n_latent
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.noise = noise
        self.mask = mask
        self.n_init = n_init
        self.seed = seed
        self.cache_dir = cache_dir

    @classmethod
    def from_estimator(
        cls,
        estimator,
        n_clusters: int,
        *,
        n_source: int | None = None,
        n_target: int | None = None,
        labelled_source: bool = True,
        heterogeneous: bool = False,
        epochs: int | None = None,
        cache_dir=None,
        target_image_shape=None,
    ):
        """The reference matching a DTC estimator's network and training budget.

        ``epochs`` defaults to the estimator's budget in *gradient steps*: its pretraining
        steps (source rows, or source + target rows with ``pretrain_on="both"``) plus its
        adaptation and self-training steps (``max(n_source, n_target)`` rows per epoch;
        ``self_training_rounds x self_training_epochs`` epochs), divided by the
        steps of one epoch on the target. Matching epochs instead would starve the
        reference whenever the target is smaller than the source. Without ``n_source`` /
        ``n_target`` it is ``pretrain_epochs + adapt_epochs``. ``labelled_source``: whether
        the estimator pretrains with source labels (with ``pretrain_on="target"`` it then
        feeds the source rows to its head as well, else the target rows alone).
        ``heterogeneous``: the pair's domains have different features, so the estimator
        pretrains a target autoencoder of its own as well (its pretraining epochs over the
        target rows), and ``pretrain_on="both"`` cannot stack the two domains; its target
        network is then DTC's (``DTC._build``): the architecture's name, an ``"mlp"`` for a
        module (it reads the source's features) or for ``"conv"`` without a
        ``target_image_shape``, into the source network's latent width.
        """
        get = lambda name, default: getattr(estimator, name, default)  # noqa: E731
        # "no" is truthy: it budgeted the labelled (or heterogeneous) steps without a word
        labelled_source = check_bool(
            labelled_source, method="NoTransferReference.from_estimator", name="labelled_source"
        )
        heterogeneous = check_bool(
            heterogeneous, method="NoTransferReference.from_estimator", name="heterogeneous"
        )
        b = int(get("batch_size", 256))
        if epochs is None:
            pre, ada = int(get("pretrain_epochs", 30)), int(get("adapt_epochs", 30))
            epochs = pre + ada
            if n_source is not None and n_target is not None:
                on = get("pretrain_on", "source")
                uses_labels = labelled_source and bool(get("use_source_labels", True))
                # the rows of DTC's pretraining (see DTC._pretrain)
                if on == "target" and not uses_labels:
                    n_pre = n_target
                elif on in ("both", "target") and not heterogeneous:
                    n_pre = n_source + n_target
                else:
                    n_pre = n_source
                # Adaptation and self-training (DTC's pseudo-label rounds) see both domains.
                later = ada + int(get("self_training_rounds", 0)) * int(
                    get("self_training_epochs", 0)
                )
                steps = pre * -(-n_pre // b) + later * -(-max(n_source, n_target) // b)
                if heterogeneous:  # DTC._pretrain: the target's own autoencoder too
                    steps += pre * -(-n_target // b)
                epochs = max(1, -(-steps // -(-n_target // b)))
        architecture, n_latent = get("architecture", "mlp"), get("n_latent", None)
        if heterogeneous:
            # the source's network did not fit the target's features: the fit failed
            if not isinstance(architecture, str):
                architecture = "mlp"
            if architecture == "conv" and target_image_shape is None:
                architecture = "mlp"
            source_net = getattr(estimator, "_src_ae", None)  # built before on_fit_begin
            n_latent = getattr(source_net, "n_latent", n_latent)
        return cls(
            n_clusters,
            architecture=architecture,
            hidden=get("hidden", None),
            n_latent=n_latent,
            epochs=epochs,
            batch_size=b,
            lr=get("lr", 1e-3),
            weight_decay=get("weight_decay", 0.0),
            noise=get("noise", 0.0),
            mask=get("mask", 0.0),
            # None as the monitor takes it (_fit_seed): 0
            seed=0 if get("seed", None) is None else get("seed", None),
            cache_dir=cache_dir,
        )

    def _check(self, X: np.ndarray) -> None:
        k = self.n_clusters
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
            raise ValueError(f"NoTransferReference: n_clusters must be an int >= 2, got {k!r}")
        if X.ndim != 2 or X.shape[0] <= k:
            raise ValueError(
                f"NoTransferReference: the target must have shape (n, d) with more than "
                f"n_clusters={k} samples, got shape {X.shape}"
            )
        # scikit-learn's 32 bits: a larger seed failed in K-means, after the training
        check_seed(self.seed, owner="NoTransferReference")
        # int() truncated 1.5 to 1 and float() parsed "0.01": what trained was not what was set
        if not is_int_at_least(self.batch_size, 1):
            raise ValueError(
                f"NoTransferReference: batch_size must be an int >= 1, got {self.batch_size!r}"
            )
        if not isinstance(self.architecture, str):
            from torch import nn  # a module exists only once torch is loaded

            if not isinstance(self.architecture, nn.Module):
                raise ValueError(
                    "NoTransferReference: architecture must be a name (str) or an "
                    f"nn.Module encoder, got {self.architecture!r}"
                )
        if self.cache_dir is not None and not isinstance(self.cache_dir, (str, os.PathLike)):
            raise ValueError(
                "NoTransferReference: cache_dir must be None or a path (str or os.PathLike), "
                f"got {self.cache_dir!r}"
            )
        # DTC's bounds (DTC._check_params): Adam refused weight_decay=-1 only once training
        check_number(self.lr, "NoTransferReference: lr", low=0, strict=True)
        check_number(self.weight_decay, "NoTransferReference: weight_decay", low=0)
        check_number(self.noise, "NoTransferReference: noise", low=0)
        if check_number(self.mask, "NoTransferReference: mask", low=0) >= 1:
            raise ValueError(f"NoTransferReference: mask must be in [0, 1), got {self.mask!r}")
        for name, low in (("epochs", 0), ("n_init", 1)):  # one K-means start at least
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"NoTransferReference: {name} must be an int >= {low}, got {v!r}")

    def _settings(self) -> dict:
        arch = self.architecture
        if not isinstance(arch, str):
            from dtc.nn.fingerprint import module_fingerprint  # torch: imported when used

            arch = module_fingerprint(arch)
        # Each value as its type: weight_decay 0 and 0.0 (a config's and the default) are one
        # setting, and the reference was trained again for it
        ints = ("n_clusters", "n_latent", "epochs", "batch_size", "n_init", "seed")
        floats = ("lr", "weight_decay", "noise", "mask")
        out = {name: _as(getattr(self, name), int) for name in ints}
        out.update({name: _as(getattr(self, name), float) for name in floats})
        out.update(architecture=arch)
        out["hidden"] = None if self.hidden is None else [_as(h, int) for h in self.hidden]
        return out

    def _uses_image_shape(self) -> bool:
        """Whether the architecture reads the image shape: ``"conv"`` and a given network
        (which may), not the fully connected ones."""
        return not isinstance(self.architecture, str) or self.architecture == "conv"

    def fit(self, X, image_shape=None):
        """Fit on target features ``X`` ``(n, d)`` (or take the cached result); returns ``self``.

        ``image_shape``: the image shape the network reads the rows as, which a ``"conv"``
        architecture needs: the target's (``Domain.image_shape``), or, as the monitor passes
        it on a pair of one feature space, the source's, for which DTC builds the network
        it runs on the target rows.
        """
        forget_fit(self)  # a refused or failed refit left the previous fit's partition
        # checked as Domain checks features: complex values lost their imaginary parts with
        # a mere warning, and a value past float32 was reported as NaN / Inf
        X = check_features(X, name="NoTransferReference: X")
        self._check(X)
        if image_shape is not None and np.ndim(image_shape) == 1 and len(image_shape) > 3:
            # fit(X, y), scikit-learn's habit: the labels were read as an image shape, and
            # ignored with a fully connected network
            raise ValueError(
                "NoTransferReference.fit: image_shape must be (H, W) or (C, H, W) of positive "
                f"ints, got {len(image_shape)} values (fit reads no labels: its second "
                "argument is image_shape, not y)"
            )
        name = "NoTransferReference.fit: image_shape"
        shape = None if image_shape is None else list(check_image_shape(image_shape, name))
        shape = shape if self._uses_image_shape() else None  # one reference for any shape
        import torch  # the thread count it trains on

        settings = {
            **self._settings(),
            "image_shape": shape,
            # the float reductions split by thread: a reference trained on 2 threads (a
            # DTC fit's n_threads) and one on 1 differed (digits, hidden 256: ARI 0.91
            # between them), and a fit got whichever its process computed first
            "threads": torch.get_num_threads(),
            # and the kernels' instruction set and the CPU (as a DTC checkpoint's key)
            "kernels": cpu_kernels(),
            **_library_versions(),
            "cache_format": _CACHE_FORMAT,
        }
        key = fingerprint(X, settings)
        found = _MEMORY.get(key)
        path = (
            None if self.cache_dir is None else user_path(self.cache_dir) / f"reference-{key}.npz"
        )
        memory_hit = found is not None
        damaged = False
        if found is None and path is not None and path.is_file():
            found = _read_cached(path, X.shape[0], int(self.n_clusters))
            damaged = found is None
        from_cache = found is not None
        if found is None:
            found = self._compute(X, image_shape)
        # A computed result is stored (a cache_dir that cannot be written is an error, as
        # it always was). Where the result was at hand anyway, a store that fails only
        # warns: a damaged or misshapen entry computed again (rewritten, or every process
        # computes it again), or a memory hit (computed earlier in this process for another
        # cache_dir, or none: never stored where this one looks, so another process missed it)
        if path is not None and not from_cache and not damaged:
            _write_atomically(path, found)
        elif path is not None and (damaged or (memory_hit and not path.is_file())):
            try:  # the result is at hand: a cache_dir that cannot be written is no error here
                _write_atomically(path, found)
            except OSError as exc:
                what = "computed again" if damaged else "found in memory"
                warn(f"{path}: the reference {what} cannot be stored ({exc})")
        _remember(key, found)
        # Only now: a training that failed left the last fit's key beside its labels.
        self.key_, self.from_cache_ = key, from_cache
        self.labels_ = found["labels"].astype(np.int64)
        self.embedding_ = found["embedding"].astype(np.float32)
        self.cluster_centers_ = found["centres"].astype(np.float32)
        return self

    def _compute(self, X: np.ndarray, image_shape) -> dict[str, np.ndarray]:
        # the networks' modules: imported when the reference is not cached
        from dtc.nn.autoencoder import build_autoencoder
        from dtc.nn.training import deterministic, embed, pretrain_autoencoder

        arch = self.architecture
        if not isinstance(arch, str):
            arch = copy.deepcopy(arch)  # never train the user's (or the estimator's) instance
        # training_defaults: fitted alone, in a caller's no_grad or float64 default, it
        # failed (inside a DTC fit, or from the cache, it did not)
        with training_defaults(), deterministic(int(self.seed), "cpu"):  # on the CPU
            ae = build_autoencoder(
                arch,
                X.shape[1],
                image_shape=image_shape,
                hidden=self.hidden,
                n_latent=self.n_latent,
            )
            pretrain_autoencoder(
                ae,
                X,
                epochs=int(self.epochs),
                batch_size=int(self.batch_size),
                lr=float(self.lr),
                weight_decay=float(self.weight_decay),
                noise=float(self.noise),
                mask=float(self.mask),
                seed=int(self.seed),
                device="cpu",
                stage="reference",
            )
            Z = embed(ae.encoder, X)
        km = KMeans(int(self.n_clusters), n_init=int(self.n_init), random_state=int(self.seed)).fit(
            Z
        )
        return {
            "labels": km.labels_.astype(np.int64),
            "embedding": Z.astype(np.float32),
            "centres": km.cluster_centers_.astype(np.float32),
        }
