"""Multi-process training through accelerate (or torchrun): who am I, and the Accelerator when there are several.

Launch with ``accelerate launch --num_processes N -m ocrops.stages train`` (or
``torchrun --nproc-per-node N -m ocrops.stages train``); a plain ``ocrops stage train`` is one process
and never touches accelerate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


@dataclass
class Distributed:
    accelerator: object  # accelerate.Accelerator

    @property
    def rank(self) -> int:
        return self.accelerator.process_index

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    def wait(self) -> None:
        self.accelerator.wait_for_everyone()


def distributed() -> Distributed | None:
    """An Accelerator (DDP over NCCL on GPUs, gloo on CPUs) when launched with several processes."""
    if world_size() <= 1:
        return None
    from accelerate import Accelerator

    return Distributed(Accelerator(cpu=not torch.cuda.is_available()))
