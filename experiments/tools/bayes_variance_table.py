"""Kingma et al. (2015) Table 1: top-layer gradient variance of three estimators, several params.

    python -m experiments.tools.bayes_variance_table --config=configs/bayes_mlp.py \
        --workdirs=local=runs/bmlp_local,shared=runs/bmlp_shared,per_example=runs/bmlp_per_example

For the parameters at initialisation and for each finished run's final parameters (the run is
resumed through :func:`experiments.run.run` with its own saved config, so the loop restores
its last checkpoint and only re-evaluates; the name before ``=`` labels the run), measures
with the same keys the variance of the stochastic ELBO gradient of the top layer's posterior
means and log-stds over ``config.eval.grad_draws`` (minibatch, noise) draws under every
estimator (:meth:`experiments.tasks.bayes_mlp.BayesMLPTask.grad_variances`), and the test
accuracy and ELBO of each parameter set. So each run is measured at its own parameters and
every estimator at common parameters. Prints a markdown table and writes it as JSON to ``--out``.
"""

from __future__ import annotations

import json
import pathlib
import time

import jax
from absl import app, flags
from ml_collections import config_flags

from experiments import registry, run
from rgrad import bayes_layers as bl
from rgrad import schedules, train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file[:variant].",
                                          lock_config=True)
_WORKDIRS = flags.DEFINE_string("workdirs", "", "name=workdir,... of finished runs.")
_OUT = flags.DEFINE_string("out", "", "JSON output path (default: none).")
_INIT = flags.DEFINE_bool("init", True, "Also measure at the initial parameters.")


def param_sets(config, task, workdirs: dict[str, str]):
    """{label: params}: the initial parameters (seed 0) and each run's last checkpoint."""
    n = len(task.dataset()["y"])
    spe = n // config.batch_size
    tx = task.optimizer(task.schedule(spe, schedules.total_steps(config, spe)))
    ts = train.init_members(task, tx, config, train.members(config, task))
    out = {"init": train.member_slice(ts.params, 0)} if _INIT.value else {}
    for name, wd in workdirs.items():
        if not (pathlib.Path(wd) / "checkpoints").exists():
            raise ValueError(f"{wd} has no checkpoint.")
        out[name] = run.run(config, run.saved_overrides(config, wd), workdir=wd).params
    return out


def measure(config, workdirs: dict[str, str]) -> dict[str, dict[str, float]]:
    task = registry.make_task(config)
    key = jax.random.key(config.seed + 17)
    rows = {}
    for label, params in param_sets(config, task, workdirs).items():
        t0 = time.perf_counter()
        # evaluate is a pure JAX function (the task contract); jitted as the loop runs it.
        row = {k: float(v) for k, v in jax.jit(task.evaluate)(params, {}, key=key).items()}
        for mode, (vm, vs) in task.grad_variances(params, key, config.eval.grad_draws).items():
            row[f"gradvar_top_mean_{mode}"] = vm
            row[f"gradvar_top_logstd_{mode}"] = vs
        row["seconds"] = time.perf_counter() - t0
        rows[label] = row
        print(f"[table] {label}: {row}", flush=True)
    return rows


def markdown(rows) -> str:
    head = ("| parameters | test acc (mean w) | test ELBO | "
            + " | ".join(f"Var g_mean {m}" for m in bl.MODES) + " | "
            + " | ".join(f"Var g_logstd {m}" for m in bl.MODES) + " |")
    lines = [head, "|" + "---|" * (3 + 2 * len(bl.MODES))]
    for label, r in rows.items():
        lines.append(f"| {label} | {r['test_acc_mean_weights']:.4f} | {r['test_elbo']:.3f} | "
                     + " | ".join(f"{r[f'gradvar_top_mean_{m}']:.3g}" for m in bl.MODES) + " | "
                     + " | ".join(f"{r[f'gradvar_top_logstd_{m}']:.3g}" for m in bl.MODES)
                     + " |")
    return "\n".join(lines)


def main(argv):
    del argv
    workdirs = dict(p.split("=", 1) for p in _WORKDIRS.value.split(",") if p)
    rows = measure(_CONFIG.value, workdirs)
    print(markdown(rows))
    if _OUT.value:
        pathlib.Path(_OUT.value).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    flags.mark_flags_as_required(["config"])
    app.run(main)
