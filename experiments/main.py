r"""Train and evaluate one experiment.

    python -m experiments.main --config=configs/vae.py --workdir=runs/vae
    python -m experiments.main --config=configs/vae.py:quick --config.optim.lr=3e-4 \
        --workdir=runs/vae_quick_lr3e-4

Rerunning the same command resumes from the workdir's last checkpoint; it may change only the
run's length and its logging (num_steps, num_epochs, log_every, eval_every, checkpoint_every,
keep_checkpoints, artifacts, data.data_dir). Any other change is refused, naming the fields:
use a new --workdir, ``--restart`` (deletes everything in the workdir and starts over) or
``--fork_from=OLD_WORKDIR --workdir=NEW`` (continues OLD's latest checkpoint, its full
training state, under the new config). One process at a time per workdir.
"""

from absl import app, flags, logging
from ml_collections import config_flags

from experiments import cli, run
from rgrad import distributed

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file[:variant].",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Where checkpoints, metrics and images go.")
_RESTART = flags.DEFINE_bool("restart", False, "Delete everything in --workdir (a run's "
                             "workdir) and start the run over.")
_FORK_FROM = flags.DEFINE_string("fork_from", None, "A run's workdir: continue its latest "
                                 "checkpoint under this config in the new --workdir.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {argv[1:]} (flags are --name=value)", status=2)
    logging.set_verbosity(logging.WARNING)  # orbax logs every file it writes at INFO
    cli.check_workdir(_WORKDIR.value)
    with cli.one_line_errors():
        distributed.initialize()  # several processes: JAX_* variables or a cluster job
        run.run(_CONFIG.value, workdir=_WORKDIR.value, progress=True, restart=_RESTART.value,
                fork_from=_FORK_FROM.value)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
