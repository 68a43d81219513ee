"""Figure: procedural-texture parameter recovery (texture experiment).

    python -m experiments.figures --only=texture_recovery   (about a minute on 2 cores)
"""

import ml_collections


def get_config(arg=None):
    c = ml_collections.ConfigDict()
    c.module = "texture_recovery"
    c.variant = "quick" if arg == "quick" else "default"  # of configs/texture.py
    c.seed = 1  # the key of the displayed renders
    return c
