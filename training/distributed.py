"""Distributed data parallel set-up for `torchrun` (the paper trained on 4 GPUs, 5 images each).

`torchrun --nproc_per_node N -m cli.main train ...` sets RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT; `init_distributed` reads them and starts the process group
(NCCL on CUDA, gloo on CPU). Without them it returns a single-process context and nothing is
initialised. Only rank 0 writes logs, samples and checkpoints.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from core.errors import InputError

__all__ = ["DistContext", "init_distributed", "shutdown_distributed", "all_reduce_mean", "barrier"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: rank, world size, local rank and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1 or (dist.is_available() and dist.is_initialized())


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InputError(f"environment variable {name} must be an integer, got {value!r}") from None


def init_distributed(device: str | None = None, backend: str | None = None) -> DistContext:
    """Start the process group when launched by torchrun (or when it is already started).

    `device`: "cpu", "cuda" or None (CUDA when available). `backend`: None picks NCCL for CUDA
    and gloo for CPU.
    """
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA device is available")
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local = _env_int("LOCAL_RANK", 0)
    if use_cuda:
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size(), local, dev)
    if world > 1:
        if not dist.is_available():
            raise InputError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
        chosen = backend or ("nccl" if use_cuda else "gloo")
        dist.init_process_group(backend=chosen, rank=rank, world_size=world)
        log.info("process group started: rank %d of %d (%s, %s)", rank, world, chosen, dev)
    return DistContext(rank, world, local, dev)


def shutdown_distributed() -> None:
    """Destroy the process group if one is running."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Average scalar logs over all ranks (identity without a process group)."""
    if not (dist.is_available() and dist.is_initialized()) or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= dist.get_world_size()
    return dict(zip(keys, t.tolist(), strict=True))
