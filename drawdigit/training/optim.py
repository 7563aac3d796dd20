"""The optimisers a run can use, Keras' RMSprop (the seed notebook's) and Adam, and the
one-cycle learning-rate schedule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from drawdigit.training.config import TrainConfig

# The share of a one-cycle run spent warming up to the peak learning rate.
ONE_CYCLE_WARM_UP = 0.25

# Keras' RMSprop defaults, which the seed notebook used through ``optimizer='rmsprop'``.
KERAS_RMSPROP_RHO = 0.9
KERAS_RMSPROP_EPSILON = 1e-7


# --------------------------------------------------------------------------- optimizer


class KerasRMSprop(torch.optim.Optimizer):
    """RMSprop exactly as Keras (and TensorFlow's ApplyRMSProp) compute it.

    ``v = rho * v + (1 - rho) * g**2;  w -= lr * g / sqrt(v + eps)``. PyTorch's own
    ``RMSprop`` adds eps *outside* the root (``sqrt(v) + eps``); with Keras' eps = 1e-7 the
    two differ wherever gradients are small, so the seed recipe uses this one.
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        rho: float = KERAS_RMSPROP_RHO,
        eps: float = KERAS_RMSPROP_EPSILON,
    ) -> None:
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            squares = []
            for p in params:
                state = self.state[p]
                if "square_avg" not in state:
                    state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                squares.append(state["square_avg"])
            rho, eps, lr = group["rho"], group["eps"], group["lr"]
            torch._foreach_mul_(squares, rho)
            torch._foreach_addcmul_(squares, grads, grads, value=1.0 - rho)
            denominators = torch._foreach_add(squares, eps)
            torch._foreach_sqrt_(denominators)
            torch._foreach_addcdiv_(params, grads, denominators, value=-lr)
        return loss


def make_optimizer(
    config: TrainConfig, model: nn.Module, steps: int
) -> tuple[torch.optim.Optimizer, Any]:
    """The optimizer and (or None) the per-batch learning-rate scheduler for ``config``."""
    params = list(model.parameters())
    if config.optimizer == "rmsprop":
        optimizer: torch.optim.Optimizer = KerasRMSprop(params, lr=config.lr)
    else:
        optimizer = torch.optim.Adam(params, lr=config.lr)
    scheduler = None
    if config.schedule == "onecycle":
        total = max(steps, 2)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.lr,
            total_steps=total,
            pct_start=warm_up_share(total),
            cycle_momentum=config.optimizer == "adam",
        )
    return optimizer, scheduler


def warm_up_share(steps: int) -> float:
    """``ONE_CYCLE_WARM_UP``, unless the warm-up would end exactly at the first step.

    ``OneCycleLR`` ends the warm-up at step ``share * steps - 1`` and divides by that
    length: 0 for a run of exactly 4 steps at 0.25 (ZeroDivisionError). There the warm-up
    ends half a step later, as it does with 5 steps (0.25 of a step)."""
    share = ONE_CYCLE_WARM_UP
    if share * steps - 1 == 0:
        share += 0.5 / steps
    return share
