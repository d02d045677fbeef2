"""xmt pack: one modality into a pack that every stage reads like a folder; bit-depth checks; DataLoader reads."""

import json

import h5py
import numpy as np
import torch
from PIL import Image

from helpers import run_cli
from xmt.data.packs.reader import PackDataset, PackImageSet
from xmt.data.sets.readers import open_image_set


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_a_pack_scores_like_the_folder_it_came_from(source_model, pattern_data, tmp_path, capsys):
    pack = tmp_path / "test.h5"
    code, out, err = run_cli(["pack", pattern_data["test"], "--modality", "rgb", "--size", "32", "--out", pack, "-q"],
                             capsys)
    assert code == 0 and out.strip() == str(pack), err
    assert isinstance(open_image_set(pack, "rgb"), PackImageSet)
    scores = []
    for data in (pattern_data["test"], pack):
        code, out, _ = run_cli(["evaluate", source_model, "--data", data, "--json", "-q"], capsys)
        scores.append(json.loads(out))
    assert scores[0]["accuracy"] == scores[1]["accuracy"] and scores[0]["support"] == scores[1]["support"]


def test_unlabelled_folder_and_list_file_with_root(tmp_path, capsys):
    for i in range(3):
        save(tmp_path / "imgs" / f"{i}.png", np.full((8, 8), 40 * i, np.uint8))
    code, out, err = run_cli(["pack", tmp_path / "imgs", "--modality", "thermal", "--size", "8", "--out",
                              tmp_path / "u.h5", "--json", "-q"], capsys)
    assert code == 0, err
    assert json.loads(out) == {"pack": str(tmp_path / "u.h5"), "images": 3, "classes": None, "skipped": 0}
    with h5py.File(tmp_path / "u.h5") as f:
        assert f["labels"][:].tolist() == [-1, -1, -1] and f["images/thermal"][2].max() == 80
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "l.txt").write_text("imgs/0.png\thot\nimgs/2.png\tcold\n")
    code, _, err = run_cli(["pack", tmp_path / "lists" / "l.txt", "--root", tmp_path, "--modality", "thermal",
                            "--size", "8", "--out", tmp_path.parent / f"{tmp_path.name}-l.h5", "-q"], capsys)
    assert code == 0, err
    pack = open_image_set(tmp_path.parent / f"{tmp_path.name}-l.h5", "thermal")
    assert pack.classes == ["cold", "hot"] and pack.labels.tolist() == [1, 0]


def test_mixed_bit_depths_are_problems(tmp_path, capsys):
    save(tmp_path / "nir" / "a" / "0.png", np.full((8, 8), 3000, np.uint16))
    save(tmp_path / "nir" / "a" / "1.png", np.full((8, 8), 30, np.uint8))
    code, _, err = run_cli(["pack", tmp_path / "nir", "--modality", "nir", "--out", tmp_path / "n.h5"], capsys)
    assert code == 2 and "a/1.png: 8-bit nir where 16-bit is expected (as the first image, 0.png)" in err
    save(tmp_path / "depth8" / "a" / "0.png", np.full((8, 8), 50, np.uint8))
    save(tmp_path / "depth8" / "a" / "1.png", np.full((8, 8), 5000, np.uint16))
    code, _, err = run_cli(["pack", tmp_path / "depth8", "--modality", "depth", "--depth-scale", "40",
                            "--out", tmp_path / "d.h5"], capsys)
    assert code == 2 and "a/1.png: 16-bit depth where 8-bit is expected (as the first image, 0.png)" in err
    code, _, err = run_cli(["pack", tmp_path / "depth8", "--modality", "depth", "--depth-scale", "40", "--skip-bad",
                            "--size", "8", "--out", tmp_path / "d.h5", "-q"], capsys)
    assert code == 0, err
    with h5py.File(tmp_path / "d.h5") as f:
        assert f["images/depth"].shape == (1, 1, 8, 8) and f["images/depth"][0].max() == 2000  # 50 x 40 mm
    assert not list(tmp_path.glob(".*tmp*"))


def test_missing_listed_files_are_all_reported(tmp_path, capsys):
    save(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "l.txt").write_text("a.png\nb.png\nc.png\n")
    code, _, err = run_cli(["pack", tmp_path / "l.txt", "--modality", "rgb", "--out", tmp_path / "x.h5"], capsys)
    assert code == 2 and "2 problems: b.png: listed in l.txt but does not exist; c.png: listed" in err
    assert not (tmp_path / "x.h5").exists()


def test_dataloader_reads_random_rows_of_a_pack(tmp_path, capsys):
    rng = np.random.default_rng(0)
    depth = rng.integers(0, 60000, (20, 8, 8), dtype=np.uint16)
    for i in range(20):
        save(tmp_path / "d" / ("a" if i < 10 else "b") / f"{i:02d}.png", depth[i])
    assert run_cli(["pack", tmp_path / "d", "--modality", "depth", "--size", "8", "--out", tmp_path / "d.h5",
                    "-q"], capsys)[0] == 0
    dataset = PackDataset(tmp_path / "d.h5")
    loader = torch.utils.data.DataLoader(dataset, batch_size=6, shuffle=True, num_workers=2,
                                         generator=torch.Generator().manual_seed(0))
    seen = {}
    for images, labels in loader:
        for image, label in zip(images, labels):
            seen[int(image[0, 0, 0])] = (image, int(label))
    assert len(seen) == 20
    for i in range(20):
        image, label = seen[int(depth[i, 0, 0])]
        np.testing.assert_array_equal(image[0].numpy(), depth[i])
        assert label == (0 if i < 10 else 1)


def test_every_compression_stores_the_same_images(tmp_path, capsys):
    rng = np.random.default_rng(1)
    for i in range(4):
        save(tmp_path / "d" / f"{i}.png", rng.integers(0, 9000, (8, 8), dtype=np.uint16))
    stored = {}
    for compression in ("none", "lzf", "gzip", "szip"):
        out = tmp_path / f"{compression}.h5"
        code, _, err = run_cli(["pack", tmp_path / "d", "--modality", "depth", "--size", "8", "--compression",
                                compression, "--out", out, "-q"], capsys)
        assert code == 0, err
        with h5py.File(out) as f:
            stored[compression] = f["images/depth"][:]
            assert f["images/depth"].compression == (None if compression == "none" else compression)
    for compression in ("lzf", "gzip", "szip"):
        np.testing.assert_array_equal(stored[compression], stored["none"])
    code, _, err = run_cli(["pack", tmp_path / "d", "--modality", "depth", "--compression", "zstd", "--out",
                            tmp_path / "z.h5"], capsys)
    assert code == 2 and "compression 'zstd': expected one of lzf, gzip, szip, none" in err
    assert not (tmp_path / "z.h5").exists()
