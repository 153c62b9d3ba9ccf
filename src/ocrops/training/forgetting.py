"""Keeping general reading while adapting: distillation from the frozen base model on general lines (KL between
the CTC posteriors of the two), L2-SP (a pull toward the pretrained weights instead of toward zero), and a smaller
learning rate for everything below the output head. ``ocrops.training.trainer`` applies what ``train`` params
switch on."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def is_head(name: str) -> bool:
    """Whether a parameter belongs to the output layer (``head.weight``, ``lm_head.weight``, ...)."""
    return any(part == "head" or part.endswith("_head") for part in name.split("."))


def parameter_groups(module: torch.nn.Module, lr: float, backbone_lr_scale: float) -> list[dict]:
    """Optimizer groups: the head at ``lr``, every other trainable weight at ``lr x backbone_lr_scale``."""
    head, body = [], []
    for name, parameter in module.named_parameters():
        if parameter.requires_grad:
            (head if is_head(name) else body).append(parameter)
    groups = [{"params": head, "lr": lr}, {"params": body, "lr": lr * backbone_lr_scale}]
    return [g for g in groups if g["params"]]


class Anchor:
    """L2-SP (Li et al., 2018): half the squared distance of the weights from where they started. A head grown
    by new characters is compared on its original rows; the new rows are free."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.start = {name: p.detach().clone() for name, p in module.named_parameters() if p.requires_grad}

    def penalty(self, module: torch.nn.Module) -> torch.Tensor:
        total = torch.zeros(())
        for name, parameter in module.named_parameters():
            start = self.start.get(name)
            if start is None:
                continue
            current = parameter[tuple(slice(0, n) for n in start.shape)] if parameter.shape != start.shape \
                else parameter
            total = total + (current - start).pow(2).sum()
        return total / 2


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 2.0) -> torch.Tensor:
    """KL(teacher || student) per time step of two (N, T, C) CTC logit tensors, averaged, times T² (Hinton et
    al., 2015). Classes the student added after the teacher's are outside the teacher's support: the student is
    taught to leave them at zero probability on general text."""
    classes = teacher.shape[-1]
    target = F.softmax(teacher.detach() / temperature, dim=-1)
    log_student = F.log_softmax(student / temperature, dim=-1)[..., :classes]
    kl = (target * (target.clamp_min(1e-8).log() - log_student)).sum(-1)
    return kl.mean() * temperature**2
