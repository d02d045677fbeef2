"""Many processes, one run: torch.distributed, as the standard launcher starts it.

`torchrun --nproc_per_node=N -m xmt transfer ...` starts N copies of the same command. Each joins one
process group (nccl on CUDA, one GPU per process; gloo on the CPU), draws the same global batch order
and augmentation, and trains on its shard of every batch (`--batch-size` stays the global batch).
Gradients are averaged across processes before every optimiser step, as DistributedDataParallel
does, here with one all-reduce per optimiser so that a step may run a module several times (the
bridge's discriminator) before its backward pass. Float buffers (BatchNorm running statistics) are
averaged after every epoch, so all processes hold one model. Snapshots for pseudo-labels are computed
on shards and gathered, so every process uses the same labels. Only rank 0 claims and writes
outputs, state, logs and progress. With one process every function here is the identity.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def launched() -> bool:
    """True in a process that torchrun (or another launcher setting WORLD_SIZE > 1) started."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_launcher(device: torch.device) -> torch.device:
    """Join the launcher's process group (once); returns this process's device (cuda:LOCAL_RANK on CUDA)."""
    if not launched():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This process's share of a global batch (every world_size-th row from its rank)."""
    world = world_size()
    return batch if world == 1 else batch[rank()::world]


def average_gradients(parameters: list[torch.nn.Parameter]) -> None:
    """Mean of every parameter's gradient over the processes, in one all-reduce."""
    _average_in_place([p.grad for p in parameters if p.grad is not None])


def average_buffers(module: torch.nn.Module) -> None:
    """Mean of the module's float buffers (BatchNorm running statistics) over the processes."""
    _average_in_place([b for b in module.buffers() if b.is_floating_point()])


def _average_in_place(tensors: list[torch.Tensor]) -> None:
    world = world_size()
    if world == 1 or not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    flat /= world
    for tensor, part in zip(tensors, flat.split([t.numel() for t in tensors])):
        tensor.copy_(part.view_as(tensor))


def gather_rows(local: torch.Tensor, total: int) -> torch.Tensor:
    """The rows every process computed for its `shard(arange(total))`, put back in order on every process."""
    world = world_size()
    if world == 1:
        return local
    longest = -(-total // world)
    padded = torch.zeros((longest, *local.shape[1:]), dtype=local.dtype, device=local.device)
    padded[:len(local)] = local
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    out = torch.empty((total, *local.shape[1:]), dtype=local.dtype, device=local.device)
    for r, part in enumerate(parts):
        count = len(range(r, total, world))
        out[r::world] = part[:count]
    return out
