"""The GRU's time loops as compiled code (``fused_gru.cpp``), built for this CPU on first use.

The hoisted arrangement of :mod:`simsvm.engine.recurrence` (``matmul_precision: bf16``) leaves
inside its time loop one recurrent product and a dozen element-wise operations per step; in
Python each is a separate pass over the step's values and a separate call.  ``fused_gru.cpp``
does the element-wise part of a step in one vectorised pass, and the loop in C++, so a step
costs its product and little more.  It is compiled with ``torch.utils.cpp_extension`` (the
system's C++ compiler, and ``ninja``, which the project installs) the first time a process asks
for it, for the CPU it runs on (``-march=native``), and cached in PyTorch's extensions folder
(``TORCH_EXTENSIONS_DIR``, by default ``~/.cache/torch_extensions``) under a name that includes
the CPU, so that one cache shared by different machines never hands one the other's code.
Where it cannot be built, :func:`fused_gru_ops` says why once and the Python loop is used.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import warnings
from pathlib import Path

import torch

from simsvm.engine.cpu import cpu_description

__all__ = ["fused_gru_ops"]

_SOURCE = Path(__file__).with_name("fused_gru.cpp")
# The forward pass is written in GCC's vector types, so -O3 for the CPU at hand is all it needs.
_FLAGS = ("-O3", "-march=native")


def fused_gru_ops(*, warn: bool = False):
    """``torch.ops.simsvm_fused_gru`` (``forward``, ``backward``, ``infer``), or ``None`` where unavailable.

    Builds the extension on the first call in a process where no build for this source, these
    flags, this CPU and this PyTorch is cached yet (about 15 s), then loads it.  Where it cannot
    be built (no compiler, no ``ninja``, a compile error), ``None``: the caller falls back to the
    PyTorch loop, slower, with the same products (the results differ by rounding only: the
    exponential's, and what that tips across a bfloat16 rounding boundary); with ``warn``, a
    ``RuntimeWarning`` names the cause, once per process.
    """
    ops, reason = _build()
    if ops is None and warn:
        _warn_unbuilt(reason)
    return ops


@functools.cache
def _build():
    try:
        from torch.utils import cpp_extension

        with _ninja_on_path(), _quiet(cpp_extension.logger):
            cpp_extension.load(
                name=_extension_name(),
                sources=[str(_SOURCE)],
                extra_cflags=list(_FLAGS),
                is_python_module=False,
                verbose=False,
            )
        return torch.ops.simsvm_fused_gru, None
    except Exception as error:  # any build failure means: use the Python loop
        return None, _reason(error)


def _reason(error: Exception) -> str:
    """The line of a failed build that says what went wrong, not the command lines around it."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    commands = ("Error building extension", "[", "FAILED:", "ninja: build stopped")
    telling = [line for line in lines if not line.startswith(commands) and " -MMD " not in line]
    return (telling or lines or [type(error).__name__])[0]


@functools.cache
def _warn_unbuilt(reason: str) -> None:
    warnings.warn(
        f"the fused GRU loops (simsvm/engine/fused_gru.cpp) could not be built ({reason}); "
        "matmul_precision 'bf16' runs the slower PyTorch loop",
        RuntimeWarning,
        stacklevel=4,
    )


def _extension_name() -> str:
    """A name per source, flags, CPU and PyTorch: ``-march=native`` code only runs where built."""
    model, flags = cpu_description()
    digest = hashlib.sha256()
    for part in (
        _SOURCE.read_bytes(),
        " ".join(_FLAGS).encode(),
        str(model).encode(),
        " ".join(sorted(flags or ())).encode(),
        torch.__version__.encode(),
    ):
        digest.update(part)
    return f"simsvm_fused_gru_{digest.hexdigest()[:16]}"


@contextlib.contextmanager
def _quiet(logger: logging.Logger):
    """PyTorch logs its own warnings about the compiler; a failed build is said once, by us."""
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextlib.contextmanager
def _ninja_on_path():
    """PyTorch looks for ``ninja`` on PATH; the pip package's binary is not there unless a venv is active."""
    try:
        import ninja
    except ImportError:
        yield
        return
    previous = os.environ.get("PATH", "")
    os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + previous
    try:
        yield
    finally:
        os.environ["PATH"] = previous
