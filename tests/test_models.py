import pytest
import torch
from torchvision import models as tv

from xmt.errors import UserError
from xmt.models import pretrained
from xmt.models.backbones import BACKBONES
from xmt.models.classifier import Classifier
from xmt.models.pretrained import find_imagenet_weights, load_pretrained


@pytest.mark.parametrize("name", ["smallcnn", "mobilenet_v2", "resnet18", "resnet50"])
def test_every_registered_backbone_gives_logits_and_256d_features(name):
    model = Classifier(name, num_classes=5).eval()
    logits, features = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 5) and features.shape == (2, 256)


def test_registry_and_unknown_backbone():
    assert {"smallcnn", "mobilenet_v2", "resnet18", "resnet50"} <= set(BACKBONES)
    with pytest.raises(UserError, match="unknown backbone 'vgg'"):
        Classifier("vgg", 3)


def test_head_is_weight_normed_and_bottleneck_is_linear_plus_batchnorm():
    model = Classifier("smallcnn", 4)
    assert hasattr(model.head, "parametrizations") and "weight" in model.head.parametrizations
    assert isinstance(model.bottleneck[0], torch.nn.Linear) and isinstance(model.bottleneck[1], torch.nn.BatchNorm1d)


def test_mobilenet_imagenet_weights_come_from_the_offline_package():
    path = find_imagenet_weights("mobilenet_v2")  # sha256 checked inside
    model = Classifier("mobilenet_v2", 3)
    digest = load_pretrained("mobilenet_v2", model.backbone, "imagenet")
    assert len(digest) == 64
    reference = torch.load(path, map_location="cpu", weights_only=True)
    torch.testing.assert_close(model.backbone.trunk[0][0].weight, reference["features.0.0.weight"])


def test_tampered_weights_fail_the_sha256_check(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / "mobilenet_v2-b0353104.pth").write_bytes(b"not the weights")
    with pytest.raises(UserError, match="sha256"):
        find_imagenet_weights("mobilenet_v2")


def test_missing_resnet_weights_say_how_to_provide_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(UserError, match="--pretrained PATH"):
        find_imagenet_weights("resnet18")
    with pytest.raises(UserError, match="no ImageNet weights exist for backbone smallcnn"):
        find_imagenet_weights("smallcnn")


def test_pretrained_path_loads_a_torchvision_state_dict(tmp_path):
    reference = tv.resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "r18.pth")
    model = Classifier("resnet18", 3)
    load_pretrained("resnet18", model.backbone, str(tmp_path / "r18.pth"))
    torch.testing.assert_close(model.backbone.conv1.weight, reference.conv1.weight)
    torch.save({"unrelated": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(UserError, match="do not fit"):
        load_pretrained("resnet18", Classifier("resnet18", 3).backbone, str(tmp_path / "bad.pth"))
