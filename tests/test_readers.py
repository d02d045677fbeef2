import numpy as np
import pytest
from PIL import Image

from xmt.data.batches import load_native
from xmt.data.encoding import EncodingRecipe
from xmt.data.packs.reader import PackImageSet
from xmt.data.packs.writer import input_list_sha256, write_pack
from xmt.data.sets.readers import open_image_set
from xmt.errors import UserError


def _png(path, value=0, shape=(6, 8, 3)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(shape, value, np.uint8)).save(path)


def test_class_folder_labels_are_sorted_folder_names(tmp_path):
    for cls, n in (("zebra", 2), ("apple", 3)):
        for i in range(n):
            _png(tmp_path / cls / f"{i}.png")
    (tmp_path / "apple" / "notes.txt").write_text("ignored")
    images = open_image_set(tmp_path, "rgb")
    assert images.classes == ["apple", "zebra"]
    assert images.labels.tolist() == [0, 0, 0, 1, 1]
    assert images.paths[0].endswith("apple/0.png")


def test_flat_folder_is_unlabelled(tmp_path):
    for i in range(3):
        _png(tmp_path / f"{i}.png")
    images = open_image_set(tmp_path, "rgb")
    assert not images.labelled and images.labels.tolist() == [-1, -1, -1]


def test_list_file_with_relative_paths_and_labels(tmp_path):
    _png(tmp_path / "imgs" / "a.png")
    _png(tmp_path / "imgs" / "b c.png")
    (tmp_path / "list.txt").write_text("# comment\nimgs/a.png cat\nimgs/b c.png\tdog\n\n")
    images = open_image_set(tmp_path / "list.txt", "rgb")
    assert images.classes == ["cat", "dog"] and images.labels.tolist() == [0, 1]
    assert images.paths[1] == str(tmp_path / "imgs" / "b c.png")


def test_list_file_problems_are_reported(tmp_path):
    _png(tmp_path / "a.png")
    (tmp_path / "mixed.txt").write_text("a.png cat\na.png\n")
    with pytest.raises(UserError, match="some lines have a label"):
        open_image_set(tmp_path / "mixed.txt", "rgb")
    (tmp_path / "missing.txt").write_text("a.png\nnope.png\n")
    with pytest.raises(UserError, match="1 listed images do not exist"):
        open_image_set(tmp_path / "missing.txt", "rgb")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(UserError, match="names no images"):
        open_image_set(tmp_path / "empty.txt", "rgb")


def test_empty_folders_are_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no images"):
        open_image_set(tmp_path / "empty", "rgb")
    (tmp_path / "classes" / "a").mkdir(parents=True)
    with pytest.raises(UserError, match="class folder holds no images"):
        open_image_set(tmp_path / "classes", "rgb")
    with pytest.raises(UserError, match="no such file"):
        open_image_set(tmp_path / "absent", "rgb")


def test_labels_map_to_the_model_classes(tmp_path):
    for cls in ("b", "c"):
        _png(tmp_path / cls / "0.png")
    images = open_image_set(tmp_path, "rgb")
    assert images.labels_for(["a", "b", "c"]).tolist() == [1, 2]
    with pytest.raises(UserError, match=r"classes \['c'\] are not among"):
        images.labels_for(["a", "b"])


def test_pack_reads_back_what_the_folder_holds(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        for i in range(3):
            path = tmp_path / "depth" / cls / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 5000, (10, 12), dtype=np.uint16)).save(path)
    folder = open_image_set(tmp_path / "depth", "depth")
    result = write_pack(tmp_path / "d.h5", {"depth": folder}, size=8, provenance={"test": True})
    assert result.count == 6 and result.problems == []
    pack = open_image_set(tmp_path / "d.h5", "depth")
    assert isinstance(pack, PackImageSet)
    assert pack.header["provenance"] == {"test": True, "root": str(tmp_path / "depth"), "inputs_count": 6,
                                         "inputs_sha256": input_list_sha256(folder.paths, tmp_path / "depth")}
    assert pack.classes == folder.classes and pack.paths == folder.paths
    assert pack.fingerprint() == folder.fingerprint()
    recipe = EncodingRecipe.for_modality("depth", size=8)
    torch_folder, torch_pack = load_native(folder, recipe), load_native(pack, recipe)
    assert torch_pack.images.dtype == torch_folder.images.dtype
    assert (torch_pack.images == torch_folder.images).all()
    with pytest.raises(UserError, match="not rgb"):
        open_image_set(tmp_path / "d.h5", "rgb")


def test_an_h5_file_that_is_not_a_pack_is_refused(tmp_path):
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(UserError, match="not an xmt pack"):
        open_image_set(tmp_path / "other.h5", "rgb")
