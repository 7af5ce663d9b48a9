"""Where a stack's excerpts are cut: from the frame store in host memory, or from a copy on the device.

Both sources take one batch of files per network, as ``(networks, batch)`` tensors of file
indices and start frames on the training device (file ``-1`` marks a padding row), and return
the excerpts time-major, ``(length, networks, batch, n_features)``, normalised by each network's
normaliser and zero past a file's end and in padding rows: what
:meth:`~simsvm.data.frames.FrameStore.excerpts` gives for each network.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from simsvm.data.frames import FrameStore, Normaliser
from simsvm.model.inference import KeptMemory

__all__ = ["DeviceFrames", "HostFrames", "frame_source"]


class HostFrames:
    """Excerpts cut from the (memory-mapped) store by numpy, then moved to ``device``.

    The CPU's choice: a worker pages in only the frames it reads.  Whole-file snapshots pass
    ``kept``: a GTZAN-sized snapshot's batches are 200 MB each, and fresh memory is faulted in
    and zeroed 4 KB at a time (94,000 page faults per snapshot, 0.1–0.2 s of a 2 s snapshot).
    """

    def __init__(self, store: FrameStore, device: torch.device):
        self.store, self.device = store, device

    def excerpts(
        self,
        files: torch.Tensor,
        starts: torch.Tensor,
        length: int,
        normalisers: Sequence[Normaliser | None],
        *,
        kept: KeptMemory | None = None,
    ) -> torch.Tensor:
        """``(length, networks, batch, n_features)``; with ``kept``, written into memory kept there
        (every value, padding included), valid until the next batch taken from it."""
        files, starts = files.cpu().numpy(), starts.cpu().numpy()
        # Allocated by torch (64-byte aligned), filled through a numpy view: MKL's kernels depend on
        # their inputs' alignment, and numpy's allocations fall where the heap happens to be, so a
        # numpy-allocated batch gave last-bit differences from one run to the next.
        shape = (length, *files.shape, self.store.n_features)
        if kept is None:
            tensor = torch.empty(shape, dtype=torch.float32)
        else:
            tensor = kept.take("frames", shape, dtype=torch.float32, device=torch.device("cpu"))
        batch = tensor.numpy()
        for model, normaliser in enumerate(normalisers):
            used = files[model] >= 0  # a stack's models may read fewer excerpts than others
            if used.all():  # written in place: no second copy of the batch
                out = batch[:, model].transpose(1, 0, 2)
                self.store.excerpts(files[model], starts[model], length, normaliser=normaliser, out=out)
                continue
            rows = np.flatnonzero(used)
            batch[:, model] = 0.0
            piece = self.store.excerpts(
                files[model, rows], starts[model, rows], length, normaliser=normaliser
            )
            batch[:, model, rows] = piece.transpose(1, 0, 2)
        return tensor.to(self.device)


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
        self._statistics: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = {}

    def excerpts(
        self,
        files: torch.Tensor,
        starts: torch.Tensor,
        length: int,
        normalisers: Sequence[Normaliser | None],
        *,
        kept: KeptMemory | None = None,
    ) -> torch.Tensor:
        """As :meth:`HostFrames.excerpts`; ``kept`` is not used (the gather makes a new tensor)."""
        real = files >= 0
        files = files.clamp(min=0)
        steps = torch.arange(length, device=self.device)[:, None, None] + starts  # (length, M, batch)
        inside = (steps < self.lengths[files]) & real
        batch = self.frames[torch.where(inside, self.offsets[files] + steps, 0)]
        mean, scale = self._statistics_of(normalisers)
        return ((batch - mean) / scale).masked_fill_(~inside[..., None], 0.0)

    def _statistics_of(self, normalisers: Sequence[Normaliser | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """Each network's mean and scale, shaped ``(networks, 1, n_features)``; none: 0 and 1 (exact)."""
        key = tuple(id(normaliser) for normaliser in normalisers)
        if key not in self._statistics:
            n_features = self.frames.shape[1]
            mean = [np.zeros(n_features) if n is None else n.mean_ for n in normalisers]
            scale = [np.ones(n_features) if n is None else n.scale_ for n in normalisers]
            self._statistics[key] = tuple(
                torch.as_tensor(np.stack(values)[:, None], dtype=torch.float32, device=self.device)
                for values in (mean, scale)
            )
        return self._statistics[key]


def frame_source(
    store: FrameStore, device: torch.device, resident: bool | None = None
) -> HostFrames | DeviceFrames:
    """The source for ``device``: resident on the device unless it is the CPU (``resident`` None)."""
    if resident is None:
        resident = device.type != "cpu"
    return DeviceFrames(store, device) if resident else HostFrames(store, device)
