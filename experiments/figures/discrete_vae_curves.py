"""Figure: discrete-latent VAEs trained by each gradient estimator: -ELBO against steps and
against wall time, and the encoder-gradient variance against steps, one line per estimator.

The runs are data of the figure's config (``runs``: name, experiment config, overrides, run
folder). A finished run (``final_metrics.json``) is only read; a missing or unfinished one is
trained (or resumed) through :func:`experiments.figures.common.train_runs` when
``config.train_missing``, else plotted as far as it got. Metrics come from the run's
``metrics.jsonl``; wall time from its TensorBoard event files (each logged step's time), as
training time only: evaluation time is left out, and the first chunk after each (re)start,
which includes compilation, counts at the run's median chunk time.
"""

from __future__ import annotations

import collections
import json
import pathlib
import struct

import numpy as np

from experiments.figures.common import ROOT, FigureResult, save_csv, train_runs


def event_times(tb_dirs) -> list[list[tuple[str, int, float]]]:
    """Per event file (one per session, in the order they were started, across ``tb_dirs``):
    [(split, step, wall time)], the latest wall time of each (split, step)'s scalars.

    A run resumed across the change of TensorBoard layout has its first sessions in ``tb/``
    and its later ones in ``tb/<member>/``: both are read.
    """
    from tensorboardX.proto import event_pb2

    def started(f: pathlib.Path) -> tuple[int, str]:  # events.out.tfevents.<unix time>.<host>
        stamp = f.name.split(".")[3]
        return int(stamp) if stamp.isdigit() else 0, f.name

    dirs = [tb_dirs] if isinstance(tb_dirs, (str, pathlib.Path)) else tb_dirs
    files = [f for d in dirs for f in pathlib.Path(d).glob("events.*")]
    sessions = []
    for path in sorted(files, key=started):
        data, i, last = path.read_bytes(), 0, {}
        while i + 12 <= len(data):  # TFRecord: length, its crc, payload, payload crc
            (n,) = struct.unpack("<Q", data[i:i + 8])
            event = event_pb2.Event.FromString(data[i + 12:i + 12 + n])
            i += 16 + n
            for v in event.summary.value:
                key = (v.tag.split("/")[0], int(event.step))
                last[key] = max(last.get(key, 0.0), event.wall_time)
        sessions.append(sorted(((s, st, w) for (s, st), w in last.items()),
                               key=lambda r: (r[2], r[1])))
    return sessions


def train_seconds(tb_dirs) -> dict[int, float]:
    """Logged step -> cumulative training wall time (s) at that step (see module docstring)."""
    chunks, restarts = {}, set()
    for session in event_times(tb_dirs):
        prev = None  # the wall time the current chunk started at
        for split, step, wall in session:
            if split == "train":
                if prev is None:
                    restarts.add(step)
                chunks[step] = wall - prev if prev is not None else np.nan
            prev = wall  # an eval (and its checkpoint) ends at its own write
    if not chunks:
        return {}
    steps = sorted(chunks)
    sizes = np.diff([0] + steps)
    per_step = np.array([chunks[s] for s in steps]) / sizes
    fill = np.nanmedian(per_step) if np.any(np.isfinite(per_step)) else np.nan
    per_step = np.where(np.isfinite(per_step), per_step, fill)
    return dict(zip(steps, np.cumsum(per_step * sizes), strict=True))


def read_curves(workdir: pathlib.Path, metrics: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Eval ``metrics`` (mean over members) per eval step, and the training seconds there."""
    rows = collections.defaultdict(list)
    path = pathlib.Path(workdir) / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        r = json.loads(line)
        if r["split"] == "eval" and all(m in r for m in metrics):
            rows[r["step"]].append([float(r[m]) for m in metrics])
    steps = np.array(sorted(rows), dtype=float)
    tb = pathlib.Path(workdir) / "tb"  # one folder per member (tb/seed0, ...); older runs: tb/
    members = sorted(p for p in tb.iterdir() if p.is_dir()) if tb.is_dir() else []
    seconds = train_seconds([tb] + members[:1])  # older sessions' events sit in tb/ itself
    out = {"step": steps,
           "seconds": np.array([seconds.get(int(s), np.nan) for s in steps])}
    for j, m in enumerate(metrics):
        out[m] = np.array([np.mean([v[j] for v in rows[s]]) for s in sorted(rows)])
    ms = sorted(seconds)
    out["ms_per_step"] = 1e3 * seconds[ms[-1]] / ms[-1] if ms else np.nan
    return out


def load_runs(config, outdir: pathlib.Path) -> dict[str, dict[str, np.ndarray]]:
    """name -> curves of each of ``config.runs``, training the missing ones if asked."""
    out = {}
    for name, config_ref, overrides, run_dir in config.runs:
        workdir = ROOT / run_dir if run_dir else outdir / f"run_{name}"
        if not (workdir / "final_metrics.json").exists() and config.train_missing:
            train_runs(((name, config_ref, overrides, run_dir),), outdir)
        curves = read_curves(workdir, (config.elbo_metric, "grad_var_encoder"))
        if len(curves["step"]):
            out[name] = curves
    if not out:
        raise ValueError("discrete_vae_curves: none of config.runs has evaluations yet; run "
                         "them (the config's docstring gives the commands).")
    return out


def make(config, outdir) -> FigureResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    data = load_runs(config, outdir)
    labels = dict(zip([r[0] for r in config.runs], config.labels, strict=True))
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2))
    cols, numbers = {}, {}
    colors = plt.get_cmap("tab20").colors  # 20 distinguishable lines
    for i, (name, c) in enumerate(data.items()):
        style = dict(color=colors[(2 * i) % 20 + (2 * i) // 20], marker="o", ms=2.5,
                     label=labels[name])
        axes[0].plot(c["step"], c[config.elbo_metric], **style)
        axes[1].semilogx(c["seconds"], c[config.elbo_metric], **style)
        axes[2].semilogy(c["step"], c["grad_var_encoder"], **style)
        cols |= {f"{name}_step": c["step"], f"{name}_seconds": c["seconds"],
                 f"{name}_{config.elbo_metric}": c[config.elbo_metric],
                 f"{name}_grad_var_encoder": c["grad_var_encoder"]}
        numbers |= {f"{name}_final_{config.elbo_metric}": float(c[config.elbo_metric][-1]),
                    f"{name}_median_grad_var": float(np.median(c["grad_var_encoder"])),
                    f"{name}_ms_per_step": float(c["ms_per_step"]),
                    f"{name}_steps": float(c["step"][-1])}
    ylabel = f"{config.elbo_metric.replace('_', ' ')} (nats)"
    axes[0].set(xlabel="training step", ylabel=ylabel, title=config.title)
    axes[1].set(xlabel="training wall time (s, evaluation excluded)", ylabel=ylabel)
    axes[2].set(xlabel="training step", ylabel="encoder gradient variance (trace)")
    for ax in axes[:2]:
        lo = min(np.nanmin(c[config.elbo_metric]) for c in data.values())
        ax.set_ylim(lo - 5, lo + config.elbo_span)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 * (1 + (len(data) - 1) // 5), 1, 1))
    png = outdir / "discrete_vae_curves.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    n = max(len(v) for v in cols.values())
    csv = save_csv(outdir / "discrete_vae_curves.csv",
                   {k: np.pad(np.asarray(v, float), (0, n - len(v)), constant_values=np.nan)
                    for k, v in cols.items()})
    var = {k: numbers[f"{k}_median_grad_var"] for k in data}
    top, best = max(var, key=var.get), min(data, key=lambda k: data[k][config.elbo_metric][-1])
    second = max((v for k, v in var.items() if k != top), default=np.nan)
    numbers |= {"highest_variance_ratio": var[top] / second}
    claim = (f"{labels[top]} has the highest encoder-gradient variance (median over "
             f"evaluations {var[top]:.3g}, {var[top] / second:.3g}x the next); the lowest "
             f"final {config.elbo_metric} is {labels[best]}'s "
             f"({data[best][config.elbo_metric][-1]:.1f} nats).")
    numbers["highest_variance_run"] = list(data).index(top)
    return FigureResult(claim, [png, csv], numbers)
