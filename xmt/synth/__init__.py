"""Embedded synthetic benchmark: procedural indoor scenes rendered to pixel-aligned RGB, depth and NIR.

    from xmt.synth import SynthConfig, generate, render_preview, render_scene, sample_scene
"""

from .generate import RENDERER_VERSION, SPLITS, SynthConfig, generate, manifest, render_dataset_scene, render_preview
from .layouts import ALL_CLASSES, TI_CLASSES, TR_CLASSES, sample_scene
from .preview import colourise_depth
from .render import MODALITIES, render_scene
from .sensors import PROFILES

__all__ = ["ALL_CLASSES", "MODALITIES", "PROFILES", "RENDERER_VERSION", "SPLITS", "SynthConfig", "TI_CLASSES",
           "TR_CLASSES", "colourise_depth", "generate", "manifest", "render_dataset_scene", "render_preview",
           "render_scene", "sample_scene"]
