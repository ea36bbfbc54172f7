"""Data-parallel training with torch.distributed: the same code runs alone or under torchrun.

Launched by ``torchrun`` (which sets RANK, WORLD_SIZE, LOCAL_RANK and MASTER_ADDR), ``init()`` joins the
process group — gloo on CPU, nccl on GPU — and the torch models train as DistributedDataParallel: every
process draws the same batches from the same seed, takes its own rows of each batch (``shard``), and DDP
averages the gradients. Each process's loss is weighted by its share of the batch, so a step under
torchrun equals the single-process step on the whole batch (up to float rounding; dropout masks differ).
Without torchrun everything here is a no-op and a batch is one process's, and torch is imported only
when a function needs it (the CLI and the app's first page ask ``is_main()`` without paying for torch).
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch


def launched() -> bool:
    """True in a process started by torchrun (or any launcher that sets WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _group():
    """torch.distributed while a process group is up, else None. Without torch imported there is none."""
    if "torch" not in sys.modules:
        return None
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def init() -> bool:
    """Join the process group when launched by torchrun; returns whether training is distributed."""
    if _group() is not None:
        return True
    if not launched():
        return False
    import torch
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return True


def finish(wait: bool = False) -> None:
    """Leave the process group (a no-op when not distributed). ``wait``: first wait for every process
    to get here, which is right only when all of them finished normally. Rank 0 saves and prints after
    training while the others are done; a process that tore its group down while rank 0 was still
    connected was once killed by gloo (SIGABRT, "terminate called without an active exception")."""
    dist = _group()
    if dist is not None:
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def rank() -> int:
    dist = _group()
    return dist.get_rank() if dist is not None else 0


def world_size() -> int:
    dist = _group()
    return dist.get_world_size() if dist is not None else 1


def is_main() -> bool:
    """The process that evaluates, saves and prints (rank 0; the only process without torchrun)."""
    return rank() == 0


def agree(flag: bool) -> bool:
    """True in every process when it is True in any: stop decisions (time budget, early stopping) must be
    the same everywhere, or the processes would wait on each other forever."""
    return agree_max(float(bool(flag))) > 0


def agree_max(value: float) -> float:
    """The largest of every process's ``value`` (e.g. elapsed seconds), the same in all of them: a
    learning rate set from each process's own clock would let the model copies drift apart."""
    if world_size() == 1:
        return float(value)
    import torch
    import torch.distributed as dist

    t = torch.tensor([float(value)], dtype=torch.float64,
                     device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def shard(rows):
    """This process's rows of a batch: every ``world_size``-th from its rank. A batch with fewer rows than
    processes goes whole to each (the averaged gradient is then that batch's gradient)."""
    size = world_size()
    if size == 1 or len(rows) < size:
        return rows
    return rows[rank()::size]


def loss_weight(mine: int, whole: int) -> float:
    """The weight of this process's loss so that DDP's gradient average equals the whole batch's mean:
    (its rows / the batch's rows) × processes. 1 without torchrun."""
    size = world_size()
    if size == 1 or mine == whole:
        return 1.0
    return mine * size / whole


def data_parallel(net: torch.nn.Module, loss: Callable[..., torch.Tensor], device: torch.device
                  ) -> Callable[..., torch.Tensor]:
    """A callable ``(*batch) -> loss`` over ``net``: wrapped in DistributedDataParallel under torchrun
    (which first copies rank 0's weights to every process), ``loss(net, ...)`` itself otherwise."""
    import torch
    from torch import nn

    class Loss(nn.Module):
        """The network and its batch loss as one module: DDP only synchronises gradients of parameters
        used inside ``forward``."""

        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, *args, **kwargs) -> torch.Tensor:
            return loss(self.net, *args, **kwargs)

    module = Loss()
    if world_size() == 1:
        return module
    ids = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def device_for_rank(device: torch.device) -> torch.device:
    """Under torchrun with CUDA, each process uses its own GPU (LOCAL_RANK)."""
    if device.type == "cuda" and device.index is None and world_size() > 1:
        import torch

        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device
