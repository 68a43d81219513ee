"""Shared defaults of every experiment config.

Not launched directly: experiment configs call ``base.get_config()`` and override. Fields:

* ``experiment``: module name under ``experiments/tasks/`` that provides ``make_task(config)``.
* ``num_steps`` (or ``num_epochs`` > 0 for dataset tasks), ``batch_size``.
* ``num_seeds``: seeds trained together in one program (vmapped), reported as mean ± std.
* ``vmap_sweep``: continuous hyperparameters swept inside the same program, e.g.
  ``"lr=1e-3,3e-4;kl_weight=0.5,1.0"`` (a grid; each point runs ``num_seeds`` seeds).
* ``log_every`` / ``eval_every`` / ``checkpoint_every`` in steps (the latter two multiples of
  ``log_every``).
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
    return c


def parse_arg(arg: str | None, allowed: tuple[str, ...]) -> str:
    """Validate a config's variant string (``configs/vae.py:quick``, or a figure's --variant).

    Args:
        arg: the requested variant; None or "" is the first of ``allowed``.
        allowed: the config's variants, the default first.

    Returns:
        The variant.

    Raises:
        ValueError: one line naming the allowed variants, for any other string.
    """
    arg = arg or allowed[0]
    if arg not in allowed:
        raise ValueError(f"unknown config variant {arg!r}; use one of {', '.join(allowed)} "
                         "(--config=FILE.py:VARIANT, or a figure's --variant=VARIANT).")
    return arg
