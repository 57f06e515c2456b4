"""Train-loop utilities shared by DTC and the deep baselines (AE+K-means, DEC, IDEC).

* :func:`deterministic` - a context in which a fit is reproducible for a seed and
  after which the global random state is what it was (no state leaks);
* :func:`minibatches` - shuffled index batches from a seeded ``torch.Generator``;
* :func:`progress_bar` - a ``rich`` progress bar, silent when ``verbose=0`` or when
  stderr is not a terminal;
* :func:`save_checkpoint` / :func:`load_checkpoint` (:func:`read_checkpoint`: or None
  for an unreadable file) - atomic ``torch.save`` and
  ``torch.load(weights_only=True)`` (no pickled code is ever executed);
* :func:`check_finite` - a diverging run raises ``FloatingPointError`` naming the
  stage and epoch;
* :func:`pretrain_autoencoder` - (denoising) reconstruction training, optionally with
  a supervised head on labelled rows;
* :func:`embed` - encode a whole array in evaluation mode.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import pickle
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from dtc._torch_state import GLOBAL_STATE_LOCK
from dtc._validation import (
    check_features,
    host_array,
    is_finite_number,
    is_int_at_least,
    user_path,
)
from dtc._warnings import warn
from dtc.nn.autoencoder import evaluating, module_device

__all__ = [
    "GLOBAL_STATE_LOCK",
    "as_tensor",
    "check_device",
    "check_finite",
    "deterministic",
    "embed",
    "load_checkpoint",
    "make_generator",
    "minibatches",
    "pretrain_autoencoder",
    "progress_bar",
    "read_checkpoint",
    "resolve_device",
    "rng_devices",
    "save_checkpoint",
    "seed_rngs",
]


def resolve_device(device=None) -> torch.device:
    """``None`` / ``"auto"``: CUDA when available, else CPU; otherwise ``torch.device(device)``,
    a CPU or an existing CUDA device (``ValueError`` otherwise)."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device: expected 'auto', 'cpu', 'cuda[:i]' or a torch.device, got {device!r}"
        ) from exc
    # Named here: torch itself fails later, at the first tensor, with an AssertionError
    # (CUDA, XPU) or a RuntimeError (MPS). Only the CPU and CUDA are supported: a fit seeds
    # and saves the RNG of those two alone (:func:`rng_devices`), so a seed would not fix
    # a fit on another accelerator.
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(
            f"device: {device!r} asked for; expected 'auto', 'cpu' or 'cuda[:i]' (dtc runs "
            f"on the CPU or a CUDA GPU, not on {resolved.type!r})"
        )
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} asked for, but this torch has no CUDA device")
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device: {device!r} asked for, but there are {torch.cuda.device_count()} CUDA devices"
        )
    return resolved


def check_device(device, method: str) -> None:
    """Refuse, naming ``method``, a ``device`` argument :func:`resolve_device` would refuse
    (and one of another type, such as an int, which ``torch.device`` reads as a CUDA index).

    Estimators call it in their parameter check: a device this machine lacks let a config
    load, and every run then failed at its fit, in words naming no method.
    """
    if device is not None and not isinstance(device, (str, torch.device)):
        raise ValueError(
            f"{method}: device must be None, 'auto', 'cpu', 'cuda[:i]' or a torch.device, got "
            f"{device!r}"
        )
    try:
        resolve_device(device)
    except ValueError as exc:
        raise ValueError(f"{method}: {exc}") from exc


def make_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (for batch order and corruption)."""
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


# GLOBAL_STATE_LOCK (dtc._torch_state) is held by :func:`deterministic`.


def rng_devices(device=None) -> list[int]:
    """The CUDA devices whose RNG a fit on ``device`` (as :func:`resolve_device` takes it)
    draws from, for :func:`torch.random.fork_rng`: none for a CPU fit. (All of them made
    a CPU fit read every GPU's RNG state, which starts CUDA on each.)"""
    device = resolve_device(device)
    if device.type != "cuda":
        return []
    return [torch.cuda.current_device() if device.index is None else device.index]


def seed_rngs(seed: int, devices: list[int]) -> None:
    """Seed the global torch RNG of the CPU and of the CUDA ``devices`` (:func:`rng_devices`)
    with ``seed``, and no other device's (``torch.manual_seed`` seeds every GPU's)."""
    torch.default_generator.manual_seed(int(seed))
    for index in devices:
        with torch.cuda.device(index):
            torch.cuda.manual_seed(int(seed))


@contextmanager
def deterministic(seed: int, device=None):
    """Run the body reproducibly for ``seed`` and restore the global state afterwards.

    Inside: the global torch RNG of the CPU, and of ``device`` when it is a CUDA device
    (as :func:`resolve_device` takes it; default CUDA when available), is seeded (weight
    initialisation, dropout), and ``torch.use_deterministic_algorithms(True,
    warn_only=True)`` is on (warn-only, because some CUDA kernels have no deterministic
    version and a warning is better than refusing to run). On a GPU that includes every
    cuBLAS matrix product unless ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` was set before the
    process first used CUDA (torch's reproducibility notes): set it in the environment
    for repeatable GPU fits (dtc leaves the process's environment to its user).
    Afterwards the caller's RNG state and determinism setting are restored, so fitting a
    model never changes the random numbers of the code around it. The body holds
    :data:`GLOBAL_STATE_LOCK`.

    The RNG is the process's, so this holds for code in the same thread: another thread
    drawing torch random numbers during a fit draws from the fit's stream (both then differ
    from alone, and the other thread's numbers repeat once the state is restored). Draw
    none in other threads while a fit runs. And a fit started in another thread from
    inside a fit (a callback that submits it to a thread pool and waits) waits for this
    lock for ever: fit it in the callback's own thread, which the lock lets in.
    """
    devices = rng_devices(device)
    with GLOBAL_STATE_LOCK, torch.random.fork_rng(devices=devices):
        was_det = torch.are_deterministic_algorithms_enabled()
        was_warn = torch.is_deterministic_algorithms_warn_only_enabled()
        seed_rngs(seed, devices)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_det, warn_only=was_warn)


def minibatches(
    n: int, batch_size: int, generator: torch.Generator | None = None, *, shuffle: bool = True
) -> Iterator[torch.Tensor]:
    """Yield index tensors covering ``range(n)`` once, in batches of ``batch_size``.

    A last batch of a single sample is merged into the previous one: batch norm and
    most alignment estimators need at least two samples.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    for i, s in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else n
        yield order[s:end]


class _NullProgress:
    def add_task(self, *args, **kwargs):
        return 0

    def update(self, *args, **kwargs):
        pass


@contextmanager
def progress_bar(verbose: int = 0):
    """A context manager yielding a ``rich.progress.Progress`` (``with progress_bar(1) as
    bar: bar.add_task(...)``, then ``update``), or a silent stand-in when ``verbose`` is 0
    or stderr is not a terminal (logs and CI stay clean)."""
    if not verbose or not sys.stderr.isatty():
        yield _NullProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    # On stderr, the stream tested above: stdout stays the results' (`dtc run --json`).
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        transient=True,
        console=Console(stderr=True),
        # stdout is not redirected into the bar's console (stderr): it stays the results'
        redirect_stdout=False,
        redirect_stderr=False,
    ) as bar:
        yield bar


def save_checkpoint(path, state: dict) -> None:
    """``torch.save`` ``state`` (tensors, numbers, strings, lists and dicts of them) to
    ``path`` atomically: a crash while writing never leaves a truncated checkpoint."""
    path = user_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a temporary file of its own: two writers of one checkpoint (two rows of a --jobs 2
    # sweep that share a pretraining) shared "<name>.tmp", and one moved the other's away;
    # opened with the umask's permissions (tempfile's are private to this user, and a
    # checkpoint folder shared by a group could not be resumed by the others)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as fh:
            torch.save(state, fh)
            # on disk before the rename: after a power cut, the rename alone could leave
            # an empty checkpoint under the final name
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # never created (a read-only folder): EROFS
            Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    ``torch.save`` writes a CRC-32 for every record of its zip archive, but ``torch.load``
    never checks them: a flipped bit in a tensor loaded as another number. Checked here
    first (``ValueError`` naming the record). A file torch cannot read (empty, cut short,
    damaged, no checkpoint) is a ``ValueError`` naming it (torch's own errors name no
    file); ``pickle.UnpicklingError`` naming it for one that holds more than weights."""
    path = user_path(path)
    map_location = _checked_map_location(map_location, "load_checkpoint")
    try:
        return _load(path, map_location)
    except _CallersError as exc:
        raise exc.__cause__ from None  # the caller's own error, not the file's


def _checked_map_location(map_location, owner: str):
    """``map_location`` as ``torch.load`` takes it, a callable wrapped by :func:`_callers`;
    ``TypeError`` naming ``owner`` for anything else."""
    if isinstance(map_location, dict):
        # torch reads the values as device strings: another (a torch.device) failed in
        # torch's words inside the load, which were then blamed on the file
        bad = [v for v in map_location.values() if not isinstance(v, str)]
        if bad:
            raise TypeError(
                f"{owner}: map_location: a dict maps device strings to device strings, "
                f"got the value {bad[0]!r}"
            )
        return map_location
    if map_location is None or isinstance(map_location, (str, torch.device)):
        return map_location
    if not callable(map_location):
        raise TypeError(
            f"{owner}: map_location must be None, a str, a torch.device, a dict or a "
            f"callable, got {map_location!r}"
        )
    return _callers(map_location)


def _load(path: Path, map_location) -> dict:
    """:func:`load_checkpoint` of a checked ``map_location``, whose own errors pass as
    :class:`_CallersError`."""
    named = f"checkpoint {str(path)!r}: "  # the start of every message naming the file
    try:
        _check_checkpoint_file(path)
        return torch.load(path, map_location=map_location, weights_only=True)
    except _CallersError:
        raise
    except pickle.UnpicklingError as exc:  # torch's documented type, the file named
        if str(exc).startswith(named):
            raise
        raise pickle.UnpicklingError(f"{named}{exc}") from exc
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise  # they name the path
    except RuntimeError as exc:
        # the file's own faults (a zip cut short; "Invalid magic number": a legacy-format
        # file whose header is damaged, its protocol or a storage size; "encrypted" or the
        # zip module's NotImplementedError: a damaged flag or version); not a map_location's
        # (a device this machine lacks), which are no unreadable file
        words = (
            "PytorchStreamReader",
            "Invalid magic number",
            "Invalid protocol",
            "wrong byte size",
            "encrypted",
        )
        if not isinstance(exc, NotImplementedError) and not any(w in str(exc) for w in words):
            raise
        raise ValueError(f"{named}torch cannot read it ({type(exc).__name__}: {exc})") from exc
    except ValueError as exc:  # UnicodeDecodeError among them
        if str(exc).startswith(named):
            raise
        raise ValueError(f"{named}torch cannot read it ({type(exc).__name__}: {exc})") from exc
    except (
        EOFError,
        OSError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        AssertionError,
        zipfile.BadZipFile,
    ) as exc:
        # a damaged file fails in the zip or pickle reader's words: a bare KeyError,
        # BadZipFile ... on one flipped bit, naming no file (NotImplementedError and
        # UnicodeDecodeError: caught above, as RuntimeError and ValueError)
        raise ValueError(
            f"{named}torch cannot read it, the file is damaged ({type(exc).__name__}: {exc})"
        ) from exc


def _check_checkpoint_file(path: Path) -> None:
    """``ValueError`` naming ``path`` when it is no torch checkpoint, or a damaged one that
    torch would read without a word (see :func:`load_checkpoint`)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            # torch's archive holds its records in one folder, "<folder>/data.pkl" among
            # them: another zip (an .npz given here) failed in torch's words, naming no file
            if not any(info.filename.partition("/")[2] == "data.pkl" for info in infos):
                raise ValueError(
                    f"checkpoint {str(path)!r}: a zip archive without torch's data.pkl "
                    "record; expected a checkpoint written by torch.save (save_checkpoint)"
                )
            # torch marks no record a folder (MS-DOS attribute 0x10): one flipped bit there
            # made torch read a tensor's record as a folder, the tensor's values then
            # uninitialised memory, without a word (the CRC-32 check reads the record whole)
            folders = [i.filename for i in infos if i.external_attr & 0x10 and not i.is_dir()]
            if folders:
                raise ValueError(
                    f"checkpoint {str(path)!r}: records {folders} are marked as folders (the "
                    "file is damaged)"
                )
            # torch.utils.serialization.config.save.compute_crc32 = False writes every
            # record's CRC-32 as 0: such a file has none to check
            checked = any(info.CRC for info in infos)
            bad = archive.testzip() if checked else None
        if bad is not None:
            raise ValueError(
                f"checkpoint {str(path)!r}: record {bad!r} fails its CRC-32 check (the file "
                "is damaged)"
            )
    elif path.is_file():
        with path.open("rb") as fh:
            head = fh.read(2)
        # torch's legacy format is a pickle, which starts with its protocol opcode (0x80;
        # protocols 0 and 1, which have none, torch.load refuses weights-only anyway),
        # and a zip cut short still starts with "PK" (torch names its fault): any other
        # file (a text file, a .mat) failed in the pickle reader's words, a bare KeyError
        # naming no file
        if head and not (head.startswith(b"\x80") or head == b"PK"):
            raise ValueError(
                f"checkpoint {str(path)!r}: not a torch checkpoint (neither torch's zip "
                "archive nor its legacy format pickled with protocol 2 or later); expected "
                "a file written by torch.save (save_checkpoint)"
            )


class _CallersError(Exception):
    """An error of a caller's ``map_location`` callable, carried past the catch-all."""


def _callers(fn):
    def call(*args):
        try:
            return fn(*args)
        except Exception as exc:
            raise _CallersError from exc

    return call


def read_checkpoint(path, map_location="cpu") -> dict | None:
    """:func:`load_checkpoint`, or ``None`` (with a warning naming the file) when ``path``
    is absent or cannot be read: empty or cut short (a crash of another writer, a full
    disk), or not a weights-only checkpoint. The caller computes the stage again and
    replaces the file; an unreadable file had failed every later fit with a bare
    ``EOFError``."""
    path = user_path(path)
    if not path.exists():
        return None
    map_location = _checked_map_location(map_location, "read_checkpoint")
    try:
        return _load(path, map_location)
    except _CallersError as exc:
        raise exc.__cause__ from None  # the caller's own error, not the file's
    except Exception as exc:
        # A file that is no zip goes down torch's legacy pickle reader, which fails in any
        # words (KeyError, IndexError, UnicodeDecodeError ... on one flipped bit), and the
        # fit with it: whatever the error, the stage is computed again.
        # (the file named once: load_checkpoint's own errors name it too)
        text = str(exc).removeprefix(f"checkpoint {str(path)!r}: ")
        warn(
            f"checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: "
            f"{text[:120]}); its stage is computed again and the file replaced",
            RuntimeWarning,
        )
        return None


def check_finite(value, *, stage: str, epoch: int) -> None:
    """Raise ``FloatingPointError`` naming ``stage`` and ``epoch`` when ``value`` is NaN/Inf."""
    v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
    if not np.isfinite(v):
        raise FloatingPointError(
            f"{stage}: the loss diverged (value {v}) at epoch {epoch}; lower the learning rate "
            "or the alignment weight (the last good checkpoint, if any, is kept)"
        )


def check_embedding(z, *, stage: str, epoch: int) -> None:
    """Raise ``FloatingPointError`` naming ``stage`` and ``epoch`` when the embedding ``z``
    (a tensor or an array) holds NaN/Inf: a step that diverged, named as one before the
    DEC head's input check blames its input ``z``."""
    ok = bool(z.detach().isfinite().all()) if isinstance(z, torch.Tensor) else np.isfinite(z).all()
    if not ok:
        raise FloatingPointError(
            f"{stage}: the training diverged (a NaN or Inf embedding) at epoch {epoch}; lower "
            "the learning rate or the alignment weight"
        )


def as_tensor(X, device=None) -> torch.Tensor:
    """``X`` (array-like or tensor, any shape, e.g. ``(n, d)``) as a float32 tensor of the
    same shape on ``device`` (a tensor stays on its own device when ``device`` is None)."""
    if isinstance(X, torch.Tensor):
        # Not through numpy: a CUDA tensor (DTC's ``_Xt`` on a GPU) or one that requires
        # grad cannot be converted to a numpy array.
        return X.detach().to(device=device, dtype=torch.float32)
    # contiguous: torch refuses a view with a negative stride (``X[::-1]``, ``np.flip``)
    return torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=device)


def check_float32(module: nn.Module, owner: str) -> None:
    """``ValueError`` naming ``owner`` unless ``module``'s floating parameters are float32,
    the dtype of the features (:func:`as_tensor`): a float64 encoder built and then failed at
    its first batch with torch's bare "mat1 and mat2 must have the same dtype"."""
    dtypes = {p.dtype for p in module.parameters() if p.is_floating_point()}
    if dtypes - {torch.float32}:
        raise ValueError(
            f"{owner}: the network has {sorted(map(str, dtypes))} parameters, but the features "
            "are float32; convert it with .float()"
        )


@torch.no_grad()
def embed(encoder: nn.Module, X, *, batch_size: int = 2048, device=None) -> np.ndarray:
    """Encode ``X`` of shape ``(n, d)`` in evaluation mode (every submodule's mode restored
    afterwards); returns ``(n, k)`` float32. On ``device``, else the encoder's (CPU for an
    encoder without parameters or buffers)."""
    if not is_int_at_least(batch_size, 1):  # numpy's ints too
        raise ValueError(f"embed: batch_size must be an int >= 1, got {batch_size!r}")
    check_float32(encoder, "embed")
    # an encoder without parameters (nn.Identity) raised a bare StopIteration here
    device = resolve_device(device) if device is not None else module_device(encoder)
    X = as_tensor(X)
    if len(X) == 0:  # torch.cat of no batches: "expected a non-empty list"
        raise ValueError("embed: X has no rows")
    # autocast off: inside the caller's torch.autocast the embedding came out in bfloat16,
    # which numpy has no type for ("Got unsupported ScalarType BFloat16")
    with evaluating(encoder), torch.autocast(device.type, enabled=False):
        out = [
            encoder(X[i : i + batch_size].to(device)).cpu() for i in range(0, len(X), batch_size)
        ]
    return torch.cat(out).numpy()


def corrupt(
    x: torch.Tensor, *, noise: float, mask: float, generator: torch.Generator
) -> torch.Tensor:
    """Denoising-autoencoder corruption of a batch ``x`` ``(n, d)``, returned with its
    shape: additive Gaussian noise of std ``noise`` and masking noise zeroing each input
    independently with probability ``mask`` (a fraction ``mask`` in expectation; Vincent
    et al., ICML 2008, zero a fixed count ``mask * d`` per row instead)."""
    if noise > 0:
        # in the batch's dtype: under a float64 default, float32 inputs became float64 and
        # the network refused them
        x = x + noise * torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    if mask > 0:
        keep = (torch.rand(x.shape, generator=generator, dtype=x.dtype) >= mask).to(x.device)
        x = x * keep
    return x


def pretrain_autoencoder(
    ae: nn.Module,
    X,
    *,
    epochs: int = 50,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    noise: float = 0.0,
    mask: float = 0.0,
    y=None,
    head: nn.Module | None = None,
    sup_weight: float = 1.0,
    seed: int = 0,
    device=None,
    verbose: int = 0,
    stage: str = "pretrain",
    on_epoch_end: Callable[[int, dict], None] | None = None,
    recon_rows=None,
) -> list[dict]:
    """Train ``ae`` (``forward(x) -> (z, x_hat)``) to reconstruct ``X`` of shape ``(n, d)``.

    With ``noise`` / ``mask`` > 0 the input is corrupted and the clean ``X`` is the
    target (denoising autoencoder). With ``y`` (``(n,)`` int, ``-1`` = unlabelled) and
    ``head`` (``(n, k) -> (n, n_classes)`` logits), ``sup_weight`` x cross-entropy of the
    labelled rows is added and ``head`` is trained too. ``recon_rows`` (``(n,)`` bool,
    default all) restricts the reconstruction loss to those rows: e.g. a labelled source
    that trains only the head next to a reconstructed target (DTC's ``pretrain_on=
    "target"``); ``recon`` is then the mean over those rows.

    Returns the per-epoch history: dicts with ``stage``, ``epoch``, ``recon`` (and
    ``sup``, the epoch's cross-entropy averaged over the labelled rows). Raises
    ``FloatingPointError`` naming ``stage`` and the epoch on NaN.
    ``on_epoch_end(epoch, logs)`` is called after every epoch (e.g. to checkpoint).
    """
    # ints by type: a seed of 2.5 was taken for 2, epochs or batch_size of 2.5 failed in
    # range() unnamed
    for name, value, low in (
        ("epochs", epochs, 0),
        ("batch_size", batch_size, 1),
        ("seed", seed, 0),
    ):
        if not is_int_at_least(value, low):
            raise ValueError(f"{stage}: {name} must be an int >= {low}, got {value!r}")
    # a bool is no rate: True trained at lr 1, and weight_decay=True failed inside Adam
    # ("Boolean alpha only supported for Boolean results")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in (lr, weight_decay)):
        raise ValueError(
            f"{stage}: lr and weight_decay must be numbers, got {lr!r}, {weight_decay!r}"
        )
    if not lr > 0 or lr == float("inf"):  # NaN compares False both ways: it trained NaNs
        raise ValueError(f"{stage}: lr must be a finite number > 0, got {lr}")
    if not 0 <= weight_decay < float("inf"):  # Adam took inf and returned NaN weights
        raise ValueError(f"{stage}: weight_decay must be a finite number >= 0, got {weight_decay}")
    # Vincent et al.'s corruptions: a Gaussian std >= 0 and a masked fraction in [0, 1);
    # mask=1 zeroed every input, a negative or NaN value turned corruption off unsaid
    # (None or a string: a bare "'<=' not supported")
    if not is_finite_number(noise) or noise < 0:
        raise ValueError(f"{stage}: noise must be a finite std >= 0, got {noise!r}")
    if not is_finite_number(mask) or not 0 <= mask < 1:
        raise ValueError(f"{stage}: mask must be a fraction in [0, 1), got {mask!r}")
    # a negative weight maximised the cross-entropy, NaN read as a diverged loss (blaming
    # the learning rate), None and "3" were taken while no labels were given
    if not is_finite_number(sup_weight) or sup_weight < 0:
        raise ValueError(f"{stage}: sup_weight must be a finite number >= 0, got {sup_weight!r}")
    # Bad data is named here: a NaN would otherwise surface as a "diverged" loss (blaming
    # the learning rate), a wrong width as a bare matrix-shape error from torch.
    X = check_features(X, name=f"{stage}: X")
    n_features = getattr(ae, "n_features", None)
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{stage}: X has {X.shape[1]} features, the autoencoder expects {n_features}"
        )
    check_float32(ae, stage)
    device = resolve_device(device)
    ae.to(device)
    Xt = as_tensor(X, device)
    yt = None
    params = list(ae.parameters())
    if y is not None:
        if head is None:
            raise ValueError(f"{stage}: labels y were given without a classification head")
        # through the host: a CUDA tensor (X may be one) cannot go to numpy directly
        y_arr = np.asarray(host_array(y, f"{stage}: y"))
        # Casting to long would truncate 1.7 to 1 and turn NaN into a huge negative
        # ("unlabelled") value, silently.
        if y_arr.dtype.kind not in "iu" and not (
            y_arr.dtype.kind == "f"
            and np.isfinite(y_arr).all()
            and (y_arr == np.round(y_arr)).all()
        ):
            raise ValueError(
                f"{stage}: y must hold integer class labels (-1 = unlabelled), got dtype "
                f"{y_arr.dtype} with non-integer values"
            )
        if (y_arr < -1).any():  # -1 is unlabelled; -2 was taken for it unsaid
            raise ValueError(
                f"{stage}: y must hold class labels >= 0 or -1 (unlabelled), got {y_arr.min()}"
            )
        yt = torch.as_tensor(y_arr, dtype=torch.long, device=device)
        if yt.shape != (len(Xt),):
            raise ValueError(f"{stage}: y must have shape ({len(Xt)},), got {tuple(yt.shape)}")
        head.to(device)
        params += list(head.parameters())
    rec = None
    if recon_rows is not None:
        rec = torch.as_tensor(
            np.asarray(host_array(recon_rows, f"{stage}: recon_rows"), dtype=bool), device=device
        )
        if rec.shape != (len(Xt),) or not bool(rec.any()):
            raise ValueError(
                f"{stage}: recon_rows must be a boolean ({len(Xt)},) mask with at least one "
                f"True row, got shape {tuple(rec.shape)}"
            )
    n_rec = len(Xt) if rec is None else int(rec.sum())
    n_lab = 0 if yt is None else int((yt >= 0).sum())
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    gen = make_generator(seed)
    history = []
    ae.train()
    if head is not None and yt is not None:
        head.train()  # trained too: a head left in evaluation mode kept its dropout off
    with progress_bar(verbose) as bar:
        task = bar.add_task(stage, total=epochs, info="")
        for epoch in range(epochs):
            sums = {"recon": 0.0, "sup": 0.0}
            for idx in minibatches(len(Xt), batch_size, gen):
                xb = Xt[idx]
                z, xr = ae(corrupt(xb, noise=noise, mask=mask, generator=gen))
                r = None if rec is None else rec[idx]
                if r is None:
                    loss = F.mse_loss(xr, xb)
                elif r.any():
                    loss = F.mse_loss(xr[r], xb[r])
                else:  # a batch of supervised-only rows: no reconstruction term
                    loss = xr.sum() * 0.0
                sums["recon"] += float(loss.detach()) * (len(idx) if r is None else int(r.sum()))
                if yt is not None:
                    yb = yt[idx]
                    lab = yb >= 0
                    if lab.any():
                        sup = F.cross_entropy(head(z[lab]), yb[lab])
                        loss = loss + sup_weight * sup
                        sums["sup"] += float(sup.detach()) * int(lab.sum())
                check_finite(loss, stage=stage, epoch=epoch)
                opt.zero_grad()
                loss.backward()
                opt.step()
            logs = {"stage": stage, "epoch": epoch, "recon": sums["recon"] / n_rec}
            if yt is not None:
                # the mean over the labelled rows (0.0 when there are none)
                logs["sup"] = sums["sup"] / max(n_lab, 1)
            history.append(logs)
            bar.update(task, advance=1, info=f"recon {logs['recon']:.4f}")
            if on_epoch_end is not None:
                on_epoch_end(epoch, logs)
    if epochs:
        # the loss is checked before each step: a step that diverged is seen at the next
        # one, and the last one not at all (its network was returned, and K-means of the
        # embedding blamed its input X). In a fork of the random streams: a module that
        # draws in every mode (a sampler) moved the fit's later draws, and its result
        with torch.random.fork_rng(devices=rng_devices(device)), torch.no_grad(), evaluating(ae):
            for i in range(0, len(Xt), 2048):
                check_embedding(ae(Xt[i : i + 2048])[0], stage=stage, epoch=epochs - 1)
    return history
