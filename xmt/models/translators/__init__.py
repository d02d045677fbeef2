"""Translators: a target-modality image (one channel by default) in, a source-like RGB image in [0, 1] out.

One module each (light.py, unet.py, vq.py), registering itself in `TRANSLATORS` under the `name` its
checkpoints record; importing the package imports them all. Every translator is rebuilt from JSON metadata
with ``build_translator(t.name, **t.config())``; its weights then load strictly from the state_dict.
"""

from xmt.models.translators.base import (TRANSLATORS, Translator, build_translator, init_pix2pix_weights,
                                         translators_help)
from xmt.registry import import_submodules

__all__ = ["TRANSLATORS", "Translator", "build_translator", "init_pix2pix_weights", "translators_help"]

import_submodules(__name__)
