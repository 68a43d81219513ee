"""Benchmark: K seeds in one program (vmapped members) against K sequential processes.

    python -m experiments.bench --only=seeds [--quick]

Small tasks through the shared loop, each at a fixed step budget: ``configs/lqg.py``,
``configs/texture.py`` and ``configs/mixture.py`` (the bandit of the issue is a closed-form
figure, not a training run, so the mixture model stands in). ``num_seeds = K`` trains K seeds
in one program; K sequential processes cost K times a one-seed process (the median of
``repeats`` such processes, each timed whole: interpreter start, imports, compilation,
training, evaluation), the way a seed sweep without vmap would run.
"""

from __future__ import annotations

import os

NAME = "seeds"
TASKS = {"LQG": ("configs/lqg.py", 300), "texture": ("configs/texture.py", 150),
         "mixture": ("configs/mixture.py", 300)}


def run(quick: bool = False) -> str:
    from experiments.bench import _procs as P

    tasks = {"LQG": ("configs/lqg.py", 100)} if quick else TASKS
    ks, repeats = (1, 4, 8, 16), 1
    main = P.main_python()
    lines = ["Wall time of whole processes (start to exit). One program: `num_seeds = K` "
             f"vmapped. Sequential: K x the median of {repeats + 1} one-seed processes.", "",
             "| task | steps | K | one program s | K sequential processes s | one program / "
             "sequential | one program / one seed | peak RSS MB | load |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, (config, steps) in tasks.items():
        def go(k, config=config, steps=steps):
            over = {"num_seeds": k, "num_steps": steps, "eval_every": steps,
                    "checkpoint_every": steps, "log_every": steps, "artifacts": False}
            r = P.measure(main, "train", {"config": config, "overrides": over})
            print(f"[bench]   {name} K={k}: {r['proc_s']:.1f} s, load {r['load']:.1f}",
                  flush=True)
            return r

        # One-seed processes interleaved with the K-seed programs: 1, K=4, 1, K=8, ...
        single, multi = [go(1)], {}
        for k in ks[1:]:
            multi[k] = go(k)
            if len(single) <= repeats:
                single.append(go(1))
        one = P.median(single, "proc_s")
        multi[1] = {**single[0], "proc_s": one}  # K = 1: the median one-seed process
        for k in ks:
            r = multi[k]
            lines.append(f"| {name} | {steps} | {k} | {r['proc_s']:.1f} | {k * one:.1f} | "
                         f"{r['proc_s'] / (k * one):.2f} | {r['proc_s'] / one:.2f} | "
                         f"{r['rss_mb']:.0f} | {r['load']:.1f} |")
    lines += ["", f"{os.cpu_count()} cores; load = 1-minute load average at the process's "
              "start."]
    return "\n".join(lines)
