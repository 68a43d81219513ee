"""Figure: procedural-texture parameter recovery (texture experiment).

    python -m experiments.figures --only=texture_recovery   (about a minute on 2 cores)
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "texture_recovery"
    # (name, experiment config, overrides): trained in the figure's folder.
    c.runs = (("texture", f"configs/texture.py:{variant}", {"artifacts": False}),)
    c.seed = 1  # the key of the displayed renders
    return c
