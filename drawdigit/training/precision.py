"""Which number format a run computes in: float32, or bfloat16 where the hardware has units
for it, and what ``"auto"`` picks on this machine and why.

bfloat16 halves the bytes each multiply-add moves and, on CPUs with AMX tiles or AVX-512
BF16 instructions, doubles or better the multiply-adds per cycle (issue 15 measured 2,426
against 4,554 images/s on an Intel Xeon with AMX). Without those units oneDNN emulates it
by converting to float32 and back, which is slower than float32 itself (measured on the
AVX2-only AMD EPYC here: benchmarks/bench_training.py). So ``auto`` reads the CPU's flags
and chooses bf16 only where the units are there; the flags are exactly what oneDNN itself
dispatches on, so no timed probe is needed to confirm them.

The flag reading and the decision are plain Python (no torch): the training dialog shows
on the GUI thread what ``auto`` will pick. ``resolve_precision`` is the torch side, used by
the loop, which also handles GPUs and machines without ``/proc/cpuinfo``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

from drawdigit.training.config import PRECISIONS, TrainingError

# CPU flags (as /proc/cpuinfo names them) of units that compute bfloat16 natively.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")

CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a run uses (``"fp32"`` or ``"bf16"``) and, in words, why."""

    precision: str
    reason: str


def read_cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str] | None:
    """The first CPU's feature flags from ``/proc/cpuinfo``; None where there is no such
    file or no flags line (macOS, Windows, some containers): then torch is asked instead."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86, ARM
            return frozenset(value.split())
    return None


def auto_for_cpu_flags(flags: Iterable[str]) -> PrecisionChoice:
    """What ``auto`` picks on a CPU with ``flags``: bf16 only with AMX-BF16 or AVX512-BF16."""
    present = set(flags)
    units = [flag for flag in BF16_CPU_FLAGS if flag in present]
    if units:
        return PrecisionChoice("bf16", f"this CPU computes bfloat16 natively ({', '.join(units)})")
    return PrecisionChoice(
        "fp32",
        "this CPU has no bfloat16 units (no AMX-BF16 or AVX512-BF16): "
        "bfloat16 would be emulated, slower than float32",
    )


def describe_auto_on_this_cpu() -> str:
    """What ``auto`` will pick for a CPU run here, in words, without importing torch (for
    the training dialog's tooltip on the GUI thread)."""
    flags = read_cpu_flags()
    if flags is None:
        return "Automatic decides when training starts (the CPU's features are read by torch)"
    choice = auto_for_cpu_flags(flags)
    name = "bfloat16" if choice.precision == "bf16" else "float32"
    return f"Automatic picks {name} on this machine's CPU: {choice.reason}"


def resolve_precision(requested: str, device: torch.device) -> PrecisionChoice:
    """The precision a run on ``device`` uses for ``requested`` (one of ``PRECISIONS``).

    ``fp32`` and ``bf16`` are used as asked (bf16 works everywhere torch's autocast does,
    only slowly without the units); ``auto`` picks bf16 on a CPU with the units (flags from
    ``/proc/cpuinfo``, else torch's own checks) or a CUDA GPU that supports it, else fp32.
    """
    import torch

    if requested not in PRECISIONS:
        raise TrainingError(f"precision must be one of {PRECISIONS}, not {requested!r}")
    if requested == "fp32":
        return PrecisionChoice("fp32", "asked for")
    if requested == "bf16":
        if device.type == "mps":
            return PrecisionChoice("fp32", "bfloat16 autocast is not used on Apple MPS")
        return PrecisionChoice("bf16", "asked for")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return PrecisionChoice("bf16", "this GPU supports bfloat16")
        return PrecisionChoice("fp32", "this GPU does not support bfloat16")
    if device.type != "cpu":
        return PrecisionChoice("fp32", f"float32 on {device.type}")
    flags = read_cpu_flags()
    if flags is None:
        flags = set()
        if torch.cpu._is_amx_tile_supported():
            flags.add("amx_bf16")
        if torch.cpu._is_avx512_bf16_supported():
            flags.add("avx512_bf16")
    return auto_for_cpu_flags(flags)
