"""The one registry type, and the registries built with it: each lists its names and builds what it names."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from xmt.data.sets.adapters import FORMATS, AdapterOptions
from xmt.data.validation import Problems
from xmt.engine.loop import Procedure, Selection, Trainer
from xmt.errors import UserError
from xmt.methods.adapt import METHODS, SELECTIONS, Objective
from xmt.methods.tgmb import BRIDGE_SELECTIONS
from xmt.models.backbones import BACKBONES, trainable_backbones
from xmt.models.translators import TRANSLATORS, Translator
from xmt.pseudo_labels import PSEUDO_LABELS
from xmt.registry import Registry


def colours() -> Registry:
    registry = Registry("colour")

    @registry.register("red")
    def red(shade: float = 1.0):
        return ("red", shade)

    registry.register("blue")(lambda: ("blue", 1.0))
    return registry


# ---- the type ----------------------------------------------------------------------------------

def test_register_keeps_the_entry_and_create_calls_it_with_keywords():
    registry = colours()
    assert registry.create("red", shade=0.5) == ("red", 0.5) and registry.create("blue") == ("blue", 1.0)
    assert registry.get("red")() == ("red", 1.0)
    assert registry.get("red").__name__ == "red"  # the decorator hands back what it decorates


def test_names_are_sorted_and_the_registry_acts_as_a_collection_of_them():
    registry = colours()
    assert registry.names() == ["blue", "red"] and list(registry) == ["blue", "red"] and len(registry) == 2
    assert "red" in registry and "green" not in registry
    assert ", ".join(registry) == "blue, red"  # as `--x: expected one of ...` messages use it


def test_a_name_is_registered_once():
    registry = colours()
    with pytest.raises(ValueError, match="colour 'red' is already registered"):
        registry.register("red")(lambda: None)
    assert registry.create("red") == ("red", 1.0)


def test_an_unknown_name_is_a_user_error_naming_the_kind_and_the_known_names():
    with pytest.raises(UserError) as raised:
        colours().create("green")
    assert str(raised.value) == "unknown colour 'green'; known: blue, red"
    assert isinstance(raised.value, ValueError)  # what library callers of build_translator have caught
    with pytest.raises(UserError, match=r"^unknown translator 'x'; known: light, unet, vq$"):
        TRANSLATORS.create("x")


# ---- the five registries -----------------------------------------------------------------------

def test_backbones():
    assert BACKBONES.names() == ["mobilenet_v2", "resnet101", "resnet18", "resnet34", "resnet50", "smallcnn", "timm",
                                 "torchvision"]
    assert trainable_backbones() == ("mobilenet_v2", "resnet101", "resnet18", "resnet34", "resnet50", "smallcnn")
    module, feature_dim = BACKBONES.create("smallcnn", width=4)
    assert feature_dim == 32 and module(torch.rand(2, 3, 16, 16)).shape == (2, 32)
    assert BACKBONES.get("mobilenet_v2").imagenet_file == "mobilenet_v2-b0353104.pth"


def test_translators():
    assert {"light", "unet", "vq"} <= set(TRANSLATORS.names())  # a new translator is a module of models/translators/
    for name, cls in TRANSLATORS.items():
        assert issubclass(cls, Translator) and cls.name == name  # checkpoints rebuild a translator by its name
    translator = TRANSLATORS.create("light", hidden=4)
    assert translator(torch.rand(2, 1, 8, 8)).shape == (2, 3, 8, 8)


def test_transfer_methods():
    # a new method is a new module and its test: this list names the ones every checkout has, not all of them
    assert {"oracle", "shot", "socket", "source-only", "tent", "tgkt"} <= set(METHODS.names())
    assert METHODS.create("source-only") is None  # trains nothing
    for name in set(METHODS) - {"source-only"}:
        objective = METHODS.create(name)
        assert isinstance(objective, Objective) and objective.name == name
    assert METHODS.create("tgkt", beta_kl=0.0).settings()["beta_kl"] == 0.0


def test_every_method_and_translator_is_registered_once_its_package_is_imported():
    """Not only those a stage happened to import: a fresh interpreter importing the registry alone sees them all."""
    names = subprocess.run([sys.executable, "-c", "from xmt.methods.objective import METHODS; print(*METHODS)"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert names == METHODS.names() and "tgkt" in names
    names = subprocess.run([sys.executable, "-c", "from xmt.models.translators.base import TRANSLATORS; "
                            "print(*TRANSLATORS)"], capture_output=True, text=True, check=True).stdout.split()
    assert names == TRANSLATORS.names() and "vq" in names


def test_pseudo_label_kinds_and_bridge_selections():
    assert {"shot", "socket"} <= set(PSEUDO_LABELS)
    for name in set(METHODS) - {"source-only"}:  # every kind a method names is registered
        kind = METHODS.create(name).pseudo_labels
        assert kind is None or kind in PSEUDO_LABELS
    with pytest.raises(UserError, match="unknown pseudo-label kind 'kmeans'; known: shot, socket"):
        PSEUDO_LABELS.get("kmeans")
    assert BRIDGE_SELECTIONS.create("last") == Selection(None, "min", "translator")
    assert BRIDGE_SELECTIONS.create("val-rec") == Selection("val_rec", "min", "translator")
    assert BRIDGE_SELECTIONS.create("tr-diversity") == Selection("tr_marginal_entropy", "max", "translator")
    assert {"last", "val-rec", "val-kl", "val-perc", "val-agreement", "tr-diversity"} <= set(BRIDGE_SELECTIONS)


def test_data_set_adapters(tmp_path):
    assert {"nyuv2", "rgbnir", "sunrgbd", "synth"} <= set(FORMATS.names())  # a new adapter: its module, its test
    rng = np.random.default_rng(0)
    for i in range(2):
        for side, image in (("rgb", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)),
                            ("depth", rng.integers(300, 5000, (8, 8), dtype=np.uint16))):
            path = tmp_path / "ti" / side / "cone" / f"{i:05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path)
    (tmp_path / "manifest.json").write_text(json.dumps({"classes": {"tr": ["ball"], "ti": ["cone"]}}))
    found = FORMATS.create("synth", root=tmp_path, options=AdapterOptions(), problems=Problems())
    assert len(found.pairs) == 2 and found.declared_tr == ["ball"]


class Scored(Procedure):
    """One weight that trains, and an end-of-epoch IM score lowest at the second of three epochs."""

    epochs, steps_per_epoch = 3, 2

    def __init__(self, criterion: str):
        self.selection = SELECTIONS.create(criterion)
        self.weight = torch.nn.Parameter(torch.tensor([3.0]))
        self.module = torch.nn.ParameterList([self.weight])
        self.optimizer = torch.optim.SGD([self.weight], lr=0.1)

    def modules(self):
        return {"model": self.module}

    def optimizers(self):
        return {"sgd": self.optimizer}

    def step(self, epoch, i, loop):
        return (self.weight ** 2).sum(), {}

    def end_epoch(self, epoch, loop):
        return {"end_snapshot_im": [0.5, 0.2, 0.4][epoch]}


def test_selection_criteria_pick_the_kept_epoch():
    assert SELECTIONS.names() == ["im", "last"]
    assert SELECTIONS.create("last") == Selection() and SELECTIONS.create("im") == Selection("end_snapshot_im", "min")
    for criterion, kept in (("last", 3), ("im", 2)):
        assert Trainer(torch.device("cpu"), log_name="test").fit(Scored(criterion)).selected_epoch == kept
