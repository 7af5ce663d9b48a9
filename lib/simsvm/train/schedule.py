"""When a network is evaluated, apart from :mod:`simsvm.train.spec` so that planning a run
(``simsvm run --dry-run``) does not import PyTorch."""

from __future__ import annotations

__all__ = ["evaluated_epochs"]


def evaluated_epochs(epochs: int, eval_every: int) -> tuple[int, ...]:
    """The epochs a network is evaluated at: 0 (untrained), every ``eval_every``, and the last."""
    return tuple(sorted({0, *range(eval_every, epochs + 1, eval_every), epochs}))
