"""Where a stack's excerpts are cut: from the frame store in host memory, or from a copy on the device.

Both sources take one batch of files per network, as ``(networks, batch)`` tensors of file
indices and start frames on the training device (file ``-1`` marks a padding row), and return
the excerpts time-major, ``(length, networks, batch, n_features)``, normalised by each network's
normaliser and zero past a file's end and in padding rows: what
:meth:`~simsvm.data.frames.FrameStore.excerpts` gives for each network.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch

from simsvm.data.frames import FrameStore, Normaliser
from simsvm.model.reading import KeptMemory

__all__ = ["DeviceFrames", "HostFrames", "frame_source"]


class HostFrames:
    """Excerpts cut from the (memory-mapped) store on the CPU, then moved to ``device``.

    The CPU's choice: a worker pages in only the frames it reads.  Each excerpt is normalised by
    two PyTorch operations straight into its place in the time-major batch (numpy's broadcast
    over a strided destination took 2.3 times as long for a snapshot's 512 files; the same
    float32 operations, so the same values).  Whole-file snapshots pass ``kept``: a GTZAN-sized
    snapshot's batches are 50 MB (fp32) or 100 MB (bf16) each, and fresh memory is faulted in and
    zeroed 4 KB at a time (24,000 page faults for a bf16 batch).
    """

    def __init__(self, store: FrameStore, device: torch.device):
        self.store, self.device = store, device
        self._sequences: dict[int, torch.Tensor] = {}
        self._statistics = _Statistics(store.n_features, torch.device("cpu"))

    def excerpts(
        self,
        files: torch.Tensor,
        starts: torch.Tensor,
        length: int,
        normalisers: Sequence[Normaliser | None],
        *,
        kept: KeptMemory | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """``(length, networks, batch, n_features)`` in ``dtype``.

        With ``kept``, written into memory kept there (every value, padding included), valid
        until the next batch taken from it.  A ``bfloat16`` batch (a bf16 snapshot's) holds the
        float32 values rounded once, as casting the float32 batch would: half the memory, and
        the products read it without a cast.
        """
        files, starts = files.cpu().tolist(), starts.cpu().tolist()
        cpu = torch.device("cpu")
        shape = (length, len(files), len(files[0]), self.store.n_features)
        # Allocated by torch (64-byte aligned): MKL's kernels depend on their inputs' alignment,
        # and a numpy-allocated batch gave last-bit differences from one run to the next.
        if kept is None:
            batch = torch.empty(shape, dtype=dtype)
        else:
            batch = kept.take("frames", shape, dtype=dtype, device=cpu)
        staging = None if dtype == torch.float32 else torch.empty(length, shape[-1])
        means, scales = self._statistics.of(normalisers)
        for model, (mean, scale) in enumerate(zip(means[:, 0], scales[:, 0], strict=True)):
            for row, (index, start) in enumerate(zip(files[model], starts[model], strict=True)):
                destination = batch[:, model, row]
                if index < 0:  # a padding row
                    destination.zero_()
                    continue
                frames = self._sequence(index)[start : start + length]
                valid = frames.shape[0]
                normalised = destination[:valid] if staging is None else staging[:valid]
                torch.sub(frames, mean, out=normalised).div_(scale)
                if staging is not None:
                    destination[:valid].copy_(normalised)
                destination[valid:].zero_()
        return batch.to(self.device)

    def _sequence(self, index: int) -> torch.Tensor:
        """File ``index``'s frames as float32, sharing the store's (memory-mapped) memory."""
        if index not in self._sequences:
            frames = np.asarray(self.store.sequence(index), dtype=np.float32)
            with warnings.catch_warnings():
                # The cache's memory maps are read-only, which torch warns about; nothing writes here.
                warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
                self._sequences[index] = torch.from_numpy(frames)
        return self._sequences[index]


class DeviceFrames:
    """Every file's frames copied once to ``device``; excerpts gathered and normalised there.

    The GPU's choice: cutting each batch on the CPU and copying it over (40 networks x 100
    excerpts x 100 frames = 128 MB per batch in 10-fold CV) would cost more than the training
    step, and the frames of a whole dataset are small beside a GPU's memory (GTZAN 0.4 GB,
    Lastfm 1.1 GB as float32).  Stored flat, one file after another, so no file is padded.
    """

    def __init__(self, store: FrameStore, device: torch.device):
        self.device = device
        self.lengths = torch.as_tensor(store.lengths, device=device)
        self.offsets = torch.cumsum(self.lengths, 0) - self.lengths
        self.frames = torch.empty(int(store.lengths.sum()), store.n_features, device=device)
        for index, offset in enumerate(self.offsets.tolist()):
            # a copy: the cache's memory maps are read-only, which torch warns about
            sequence = np.array(store.sequence(index), dtype=np.float32)
            self.frames[offset : offset + len(sequence)] = torch.from_numpy(sequence)
        self._statistics = _Statistics(store.n_features, device)

    def excerpts(
        self,
        files: torch.Tensor,
        starts: torch.Tensor,
        length: int,
        normalisers: Sequence[Normaliser | None],
        *,
        kept: KeptMemory | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """As :meth:`HostFrames.excerpts`; ``kept`` is not used (the gather makes a new tensor)."""
        real = files >= 0
        files = files.clamp(min=0)
        steps = torch.arange(length, device=self.device)[:, None, None] + starts  # (length, M, batch)
        inside = (steps < self.lengths[files]) & real
        batch = self.frames[torch.where(inside, self.offsets[files] + steps, 0)]
        mean, scale = self._statistics.of(normalisers)
        return ((batch - mean) / scale).masked_fill_(~inside[..., None], 0.0).to(dtype)


class _Statistics:
    """Each network's normaliser as float32 tensors on ``device``, made once per set of normalisers."""

    def __init__(self, n_features: int, device: torch.device):
        self.n_features, self.device = n_features, device
        self._made: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = {}

    def of(self, normalisers: Sequence[Normaliser | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and scales, shaped ``(networks, 1, n_features)``; no normaliser: 0 and 1 (exact)."""
        key = tuple(id(normaliser) for normaliser in normalisers)
        if key not in self._made:
            mean = [np.zeros(self.n_features) if n is None else n.mean_ for n in normalisers]
            scale = [np.ones(self.n_features) if n is None else n.scale_ for n in normalisers]
            self._made[key] = tuple(
                torch.as_tensor(np.stack(values)[:, None], dtype=torch.float32, device=self.device)
                for values in (mean, scale)
            )
        return self._made[key]


def frame_source(
    store: FrameStore, device: torch.device, resident: bool | None = None
) -> HostFrames | DeviceFrames:
    """The source for ``device``: resident on the device unless it is the CPU (``resident`` None)."""
    if resident is None:
        resident = device.type != "cpu"
    return DeviceFrames(store, device) if resident else HostFrames(store, device)
