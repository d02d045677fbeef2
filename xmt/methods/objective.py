"""What a transfer method is to the rest of xmt: an `Objective` registered by name in `METHODS`.

An objective declares everything the stage and the command line need from it, so that neither names a
method: its options (its dataclass fields declared with `setting(...)`, which become `xmt transfer` options),
what it reads (`pseudo_labels`, `uses_ti`, `uses_translations`, `uses_labels`), whether the teacher guard
may scale its distillation (`guardable`, `guarded()`), and a line for `--method`'s help (`summary`).
Each method registers itself in its own module of xmt/methods/, and importing `xmt.methods` imports them
all, so `METHODS` holds every method wherever it is read from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable, ClassVar

import torch

from xmt.errors import UserError
from xmt.pseudo_labels import PseudoLabels
from xmt.registry import Registry
from xmt.settings import Setting, declared, foreign_setting

if TYPE_CHECKING:
    from xmt.models.classifier import Classifier


@dataclass
class Batch:
    x: torch.Tensor  # encoded (and augmented) TR images
    index: torch.Tensor  # their rows in AdaptData.tr
    pseudo: PseudoLabels | None = None
    teacher: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    ti_x: torch.Tensor | None = None
    ti_source_features: torch.Tensor | None = None


class Objective:
    """A transfer method: what it needs and its loss on a batch."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""  # what it is, in a few words, for `--method`'s help
    pseudo_labels: ClassVar[str | None] = None  # a kind in xmt.pseudo_labels.PSEUDO_LABELS, refreshed each epoch
    uses_ti: ClassVar[bool] = False  # TI pairs: batch.ti_x and batch.ti_source_features (--ti)
    uses_translations: ClassVar[bool] = False  # the source model on bridge's translations: batch.teacher
    uses_labels: ClassVar[bool] = False  # TR labels: batch.labels (the oracle's, never a method's)
    # the option that switches off its use of the translations (said when --translated is missing)
    translations_off: ClassVar[str | None] = None
    # whether --guard-with may scale its distillation of the teacher: then it has `guard_margin` and `guarded()`
    guardable: ClassVar[bool] = False

    def trainable(self, model: Classifier, config) -> list[tuple[list[torch.nn.Parameter], float]]:
        """The parameters that train, as (parameters, lr multiplier) groups; all others stay frozen. SHOT's
        recipe: backbone at `backbone_lr_mult`, bottleneck at 1, the head frozen."""
        return [(list(model.backbone.parameters()), config.backbone_lr_mult),
                (list(model.bottleneck.parameters()), 1.0)]

    def setup(self, source: Classifier, device: torch.device) -> None:
        """Called once before training, with the frozen source model."""

    def epoch_teacher(self, teacher: torch.Tensor, pseudo: PseudoLabels | None) -> torch.Tensor:
        """The (N_tr, K) teacher probabilities this epoch's batches draw from (TGKT may vote by cluster)."""
        return teacher

    def guarded(self, weight: float) -> "Objective":
        """This objective with its distillation of the teacher scaled by the guard's weight in [0, 1]."""
        raise NotImplementedError(f"{self.name} has no teacher term to guard")

    def loss(self, model: Classifier, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def settings(self) -> dict:
        return asdict(self) if hasattr(self, "__dataclass_fields__") else {}


# --method: each Objective registers itself in its own module of xmt/methods/ (see tent.py).
METHODS: Registry[Callable[..., Objective | None]] = Registry("transfer method")


@METHODS.register("source-only")
def source_only() -> None:
    """No objective: the source model's weights, reading the target modality through its recipe; nothing trains."""
    return None


source_only.summary = "no training"


def method_settings(method: str) -> list[Setting]:
    """The settings a registered method declares (its command-line options), in field order."""
    return _declared_by(METHODS.get(method))


def method_option_classes() -> list[type]:
    """Every registered method that declares settings: what `xmt transfer` makes options of."""
    return [entry for name, entry in METHODS.items() if method_settings(name)]


def methods_help() -> str:
    """Every registered method, with its summary where it has one: `--method`'s help."""
    return ", ".join(f"{name} ({entry.summary})" if getattr(entry, "summary", "") else name
                     for name, entry in METHODS.items())


def methods_where(test: Callable[[type | Callable], bool]) -> list[str]:
    """The registered methods whose entry passes `test`, sorted."""
    return [name for name, entry in METHODS.items() if test(entry)]


def methods_declaring(need: str) -> list[str]:
    """The registered methods that may read what `need` (an Objective attribute: "uses_ti", "guardable"...) says
    (a property computed from the settings counts as may)."""
    return methods_where(lambda entry: bool(getattr(entry, need, False)))


def applies_only_to(flag: str, methods: list[str]) -> str:
    """'--x applies to --method a only', naming the methods that take it; where all but one vary that one
    (subclasses of its objective), 'and its variants (b, c)'."""
    entries = {name: METHODS.get(name) for name in methods}
    for base, cls in entries.items():
        others = [name for name in methods if name != base]
        if isinstance(cls, type) and all(isinstance(entries[n], type) and issubclass(entries[n], cls) for n in others):
            return f"{flag} applies to --method {base} only" + (f" and its variants ({', '.join(others)})"
                                                              if others else "")
    return f"{flag} applies to --method {' or '.join(methods)} only"


def create_objective(method: str, settings: dict) -> Objective | None:
    """The objective `--method` names (None for source-only), given the values of the settings it declares
    among `settings` (any method's, as `xmt transfer` gathers them). A setting only other methods declare is
    refused unless it is at its default, naming the methods it applies to."""
    if method not in METHODS:  # named as the option, which is what the user typed
        raise UserError(f"--method {method}: expected one of {', '.join(METHODS)}")
    entry = METHODS.get(method)
    own = entry if _declared_by(entry) else None
    foreign = foreign_setting(settings, own, {name: entry for name, entry in METHODS.items() if _declared_by(entry)})
    if foreign is not None:
        raise UserError(applies_only_to(foreign[0].flag, foreign[1]))
    owned = {s.name for s in _declared_by(entry)}
    return METHODS.create(method, **{k: v for k, v in settings.items() if k in owned})


def _declared_by(entry) -> list[Setting]:
    return declared(entry) if isinstance(entry, type) and dataclasses.is_dataclass(entry) else []
