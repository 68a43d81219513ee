"""Shared defaults of every experiment config.

Not launched directly: experiment configs call ``base.get_config()`` and override. Fields:

* ``experiment``: module name under ``experiments/tasks/`` that provides ``make_task(config)``.
* ``num_steps`` (or ``num_epochs`` > 0 for dataset tasks), ``batch_size``.
* ``num_seeds``: seeds trained together in one program (vmapped), reported as mean ± std.
* ``vmap_sweep``: continuous hyperparameters swept inside the same program, e.g.
  ``"lr=1e-3,3e-4;kl_weight=0.5,1.0"`` (a grid; each point runs ``num_seeds`` seeds).
* ``log_every`` / ``eval_every`` / ``checkpoint_every`` in steps (the latter two multiples of
  ``log_every``).

Variants (:func:`parse_arg`): ``--config=configs/vae.py:iwae,quick`` (or big_vision's
``:variant=iwae,quick=1``) applies both variants, ``quick`` last (the iwae model at smoke-test
size); ``variant`` records the canonical string. Two variants choosing the same thing (two
models) are an error.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.experiment = ""
    c.seed = 0
    c.num_seeds = 1
    c.vmap_sweep = ""
    c.num_steps = 1000
    c.num_epochs = 0
    c.batch_size = 128
    c.log_every = 100
    c.eval_every = 1000
    c.checkpoint_every = 1000
    c.keep_checkpoints = 2
    c.artifacts = True

    c.optim = ml_collections.ConfigDict()
    c.optim.name = "adam"
    c.optim.lr = 1e-3
    c.optim.schedule = "constant"
    c.optim.warmup_steps = 0
    c.optim.b1 = 0.9
    c.optim.b2 = 0.999
    c.optim.eps = 1e-8
    c.optim.weight_decay = 0.0
    c.optim.momentum = 0.0
    c.optim.grad_clip = 0.0

    c.data = ml_collections.ConfigDict()
    c.data.data_dir = ""  # empty: $RGRAD_DATA_DIR, then ~/.cache/rgrad
    c.data.download = True

    # Device mesh (rgrad/mesh.py): mesh.data devices split each batch; mesh.members devices
    # (0: all the others) hold the members (seeds x vmap_sweep points), padded to fit.
    c.mesh = ml_collections.ConfigDict()
    c.mesh.data = 1
    c.mesh.members = 0

    # Weights & Biases (rgrad/wandb_sink.py): off while project is empty.
    c.wandb = ml_collections.ConfigDict()
    c.wandb.project = ""  # e.g. --config.wandb.project=rgrad: one wandb run per member
    c.wandb.entity = ""  # empty: your default entity
    c.wandb.mode = "online"  # online | offline (files in WORKDIR/wandb; `wandb sync`) | disabled
    c.wandb.group = ""  # empty: the workdir's name (the members' runs are grouped)
    return c


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class Variant:
    """A parsed variant argument: the chosen flags, in the config's order.

    ``"quick" in variant`` asks for a flag; ``str(variant)`` is the canonical argument (the
    tokens as given, in the config's order, the default dropped when anything else is
    chosen), what a config stores in its ``variant`` field.
    """

    def __init__(self, flags: tuple[str, ...], text: str):
        self.flags = flags
        self.text = text

    def __contains__(self, flag: str) -> bool:
        return flag in self.flags

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Variant({self.text!r}, flags={self.flags})"


def parse_arg(arg: str | None, allowed: tuple[str, ...], *,
              exclusive: dict[str, tuple[str, ...]] | None = None,
              aliases: dict[str, tuple[str, ...]] | None = None) -> Variant:
    """Parse a config's variant argument (``configs/vae.py:iwae,quick``, a figure's --variant).

    The argument is comma-separated tokens, each a variant name (``iwae``), ``variant=NAME``
    or ``NAME=1`` / ``NAME=0`` (big_vision's key=value style: ``variant=iwae,quick=1`` is
    ``iwae,quick``; ``quick=0`` drops quick). The config applies the chosen variants together,
    each on top of the earlier ones in its own order (``quick`` last, so ``iwae,quick`` is
    the iwae setup at smoke-test size), so the order of the tokens does not matter.

    Args:
        arg: the argument; None or "" is the default (the first of ``allowed``).
        allowed: the config's variant names, the default first.
        exclusive: groups of variants that cannot be combined, by what they choose
            (``{"model": ("flax", "iwae")}``).
        aliases: names that stand for several variants (``{"mnist_quick": ("mnist",
            "quick")}``); the alias stays in the canonical string.

    Returns:
        The :class:`Variant`.

    Raises:
        ValueError: one line, for an unknown name or value, an empty token, or two variants
            of one exclusive group.
    """
    aliases = aliases or {}
    usage = (f"use one of {', '.join(allowed)}, comma-separated to combine them "
             "(--config=FILE.py:VARIANT[,VARIANT...], or a figure's --variant=VARIANT).")
    given = []
    for token in arg.split(",") if arg else []:
        name, eq, value = (t.strip() for t in token.partition("="))
        if eq and name == "variant":
            name, value = value, "1"
        if not name:
            raise ValueError(f"config variant {arg!r} has an empty item; {usage}")
        if name not in allowed:
            raise ValueError(f"unknown config variant {name!r}; {usage}")
        if eq and value.lower() not in _TRUE + _FALSE:
            raise ValueError(f"config variant {token.strip()!r}: the value must be 1 or 0 "
                             f"(true/false); {usage}")
        if not eq or value.lower() in _TRUE:
            given.append(name)
    default = allowed[0]
    chosen = sorted({n for n in given if n != default}, key=allowed.index) or [default]
    flags = [f for n in chosen for f in aliases.get(n, (n,))]
    flags = tuple(sorted(set(flags), key=allowed.index))
    for what, group in (exclusive or {}).items():
        clash = [f for f in flags if f in group]
        if len(clash) > 1:
            raise ValueError(f"config variants {clash[0]!r} and {clash[1]!r} both choose the "
                             f"{what}; give at most one of {', '.join(group)}.")
    return Variant(flags, ",".join(chosen))
