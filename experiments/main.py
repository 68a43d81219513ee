"""Train and evaluate one experiment.

    python -m experiments.main --config=configs/vae.py --workdir=runs/vae
    python -m experiments.main --config=configs/vae.py:quick --config.optim.lr=3e-4

Rerunning the same command resumes from the workdir's last checkpoint.
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from experiments import run
from rgrad import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file[:variant].",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Where checkpoints, metrics and images go.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # orbax logs every file it writes at INFO
    try:
        run.run(_CONFIG.value, workdir=_WORKDIR.value, progress=True)
    except (ValueError, train.NonFiniteError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
