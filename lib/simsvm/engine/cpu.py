"""What the CPU can do, as Linux reports it: read once per process."""

from __future__ import annotations

import functools

__all__ = ["cpu_description", "cpu_has_bf16"]


@functools.cache
def cpu_description() -> tuple[str | None, frozenset[str] | None]:
    """The CPU's model name and feature flags as Linux lists them (``None``, ``None`` elsewhere)."""
    model, flags = None, None
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model is None:
                    model = value.strip()
                elif key.strip() == "flags" and flags is None:
                    flags = frozenset(value.split())
    except OSError:  # not Linux: the flags are unknown, not absent
        pass
    return model, flags


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AMX-BF16 or AVX512-BF16)."""
    flags = cpu_description()[1] or frozenset()
    return "amx_bf16" in flags or "avx512_bf16" in flags
