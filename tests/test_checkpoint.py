import json

import pytest
import torch
from safetensors.torch import save_file

from xmt.data.encoding import EncodingRecipe
from xmt.engine.checkpoint import SCHEMA_VERSION, read_checkpoint, read_metadata, save_checkpoint
from xmt.errors import UserError
from xmt.models.classifier import Classifier
from xmt.artifacts import load_model, save_model


def _save(tmp_path, **extra):
    model = Classifier("smallcnn", 3, backbone_args={"width": 8})
    recipe = EncodingRecipe.for_modality("depth", size=32)
    path = save_model(tmp_path / "m.safetensors", model, kind="target-model", classes=["a", "b", "c"], recipe=recipe,
                      config={"lr": 0.01}, provenance={"inputs": {"x": {"sha256": "00"}}}, extra=extra)
    return model, recipe, path


def test_model_round_trip_keeps_weights_and_metadata(tmp_path):
    model, recipe, path = _save(tmp_path, method="tgkt")
    loaded = load_model(path)
    assert loaded.classes == ["a", "b", "c"] and loaded.recipe == recipe and loaded.modality == "depth"
    assert loaded.meta["kind"] == "target-model" and loaded.meta["schema"] == SCHEMA_VERSION
    assert loaded.meta["method"] == "tgkt" and loaded.meta["config"] == {"lr": 0.01}
    assert loaded.meta["provenance"]["inputs"]["x"]["sha256"] == "00"
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    torch.testing.assert_close(loaded.model(x)[0], model(x)[0])


def test_a_checkpoint_records_the_thread_count_and_torch_it_was_made_with(tmp_path):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # the sums' order, and so the weights, depend on it
        _, _, path = _save(tmp_path)
    finally:
        torch.set_num_threads(threads)
    made_with = read_metadata(path)["environment"]
    assert made_with == {"torch": torch.__version__, "cpu_threads": 1, "processes": 1}


def test_wrong_kind_is_refused(tmp_path):
    _, _, path = _save(tmp_path)
    with pytest.raises(UserError, match="is a target-model checkpoint; expected translator"):
        read_checkpoint(path, kinds=("translator",))


def test_truncated_checkpoint_is_a_user_error(tmp_path):
    _, _, path = _save(tmp_path)
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="cut.safetensors"):
        load_model(tmp_path / "cut.safetensors")


def test_foreign_and_newer_files_are_refused(tmp_path):
    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(UserError, match="not an xmt checkpoint"):
        read_metadata(tmp_path / "plain.safetensors")
    header = {"schema": SCHEMA_VERSION + 1, "kind": "source-model"}
    save_file({"w": torch.zeros(2)}, str(tmp_path / "new.safetensors"), metadata={"xmt": json.dumps(header)})
    with pytest.raises(UserError, match="upgrade xmt"):
        read_metadata(tmp_path / "new.safetensors")


def test_shapes_are_checked_against_the_declared_architecture(tmp_path):
    _, _, path = _save(tmp_path)
    tensors, meta = read_checkpoint(path)
    meta["arch"]["num_classes"] = 4
    meta["classes"] = ["a", "b", "c", "d"]
    meta.pop("schema"), meta.pop("xmt_version")
    save_checkpoint(tmp_path / "lie.safetensors", tensors, meta)
    with pytest.raises(UserError, match="wrong shape"):
        load_model(tmp_path / "lie.safetensors")
