"""What keeps general reading: the distillation loss, the L2-SP anchor, the head/body learning rates."""

from __future__ import annotations

import torch

from ocrops.training.forgetting import Anchor, distillation_loss, is_head, parameter_groups


class Tiny(torch.nn.Module):
    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.backbone = torch.nn.Linear(4, 4)
        self.head = torch.nn.Linear(4, classes)


def test_distillation_is_zero_for_the_teacher_itself_and_grows_as_the_student_moves_away() -> None:
    teacher = torch.randn(2, 7, 5)
    assert distillation_loss(teacher.clone(), teacher).item() < 1e-6
    near = distillation_loss(teacher + 0.1 * torch.randn(2, 7, 5), teacher).item()
    far = distillation_loss(teacher + 2.0 * torch.randn(2, 7, 5), teacher).item()
    assert 0 < near < far


def test_distillation_pushes_added_classes_to_zero_on_general_text() -> None:
    teacher = torch.randn(1, 3, 5)
    student = torch.cat([teacher, torch.full((1, 3, 2), 5.0)], dim=-1).requires_grad_()  # two new classes, likely
    loss = distillation_loss(student, teacher)
    loss.backward()
    assert loss.item() > 0.5 and (student.grad[..., 5:] > 0).all()  # gradient descent lowers the new classes


def test_the_anchor_measures_the_distance_from_the_start_even_after_the_head_grows() -> None:
    model = Tiny()
    anchor = Anchor(model)
    assert anchor.penalty(model).item() == 0
    with torch.no_grad():
        model.backbone.weight.add_(0.5)  # 16 weights moved by 0.5: 16 * 0.25 / 2
        grown = torch.nn.Linear(4, 7)
        grown.weight[:5].copy_(model.head.weight)
        grown.bias[:5].copy_(model.head.bias)
    model.head = grown  # two new characters: their rows are free
    assert abs(anchor.penalty(model).item() - 2.0) < 1e-5


def test_the_head_keeps_the_learning_rate_and_the_body_gets_its_share() -> None:
    assert is_head("head.weight") and is_head("model.lm_head.weight") and not is_head("backbone.heads_x.weight")
    groups = parameter_groups(Tiny(), lr=1e-3, backbone_lr_scale=0.1)
    assert [g["lr"] for g in groups] == [1e-3, 1e-4]
    assert [len(g["params"]) for g in groups] == [2, 2]
