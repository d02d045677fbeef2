"""The layout `xmt synth` writes: OUT/ti/rgb/<class>/<id>.png paired with OUT/ti/<modality>/<class>/<id>.png.

OUT/manifest.json names the task-relevant classes ({"classes": {"tr": [...], "ti": [...]}}),
which the TI pairs must not share.
"""

from __future__ import annotations

import json
from pathlib import Path

from xmt.data.modalities import TARGET_MODALITIES
from xmt.data.sets.adapters import FORMATS, AdapterOptions, Found
from xmt.data.sets.pairing import pair_folders
from xmt.data.validation import Problems
from xmt.errors import UserError


@FORMATS.register("synth")
def find(root: Path, options: AdapterOptions, problems: Problems) -> Found:
    manifest_path = root / "manifest.json"
    try:
        tr_classes = list(json.loads(manifest_path.read_text(encoding="utf-8"))["classes"]["tr"])
    except FileNotFoundError:
        raise UserError("no manifest.json: not a folder written by xmt synth", path=root)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"not a readable xmt synth manifest (expected classes.tr): {exc}", path=manifest_path)
    present = [m for m in TARGET_MODALITIES if (root / "ti" / m).is_dir()]
    modality = options.modality
    if modality is None:
        if len(present) != 1:
            raise UserError(f"ti/ holds {', '.join(present) or 'no target modality'}: choose one with --modality",
                            path=root)
        modality = present[0]
    elif modality not in present:
        raise UserError(f"no ti/{modality}/ folder (ti/ holds {', '.join(present) or 'none'})", path=root)
    pairs = pair_folders(root / "ti" / "rgb", root / "ti" / modality, modality, options.depth_scale_mm, problems)
    return Found(pairs, declared_tr=tr_classes, declared_by=f"the TR classes of {manifest_path.name}")
