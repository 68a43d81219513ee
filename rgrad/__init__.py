"""rgrad: the reparameterization trick and Monte Carlo gradient estimation in JAX."""

import importlib.metadata
import os


def _disable_xla_cpu_ynn_fusions() -> None:
    """Turn off XLA:CPU's experimental YNNPACK fusions for this process (jaxlib 0.10.x).

    In jaxlib 0.10.2 they return garbage (inf, 1e8-1e37) from some fused reductions, differently
    from process to process: the same compiled executable on the same inputs was right in one
    process and wrong in the next (BENCHMARKS.md, diffusion section; 7/7 processes right without
    them). XLA reads XLA_FLAGS when JAX first initialises its backend, so this takes effect
    when rgrad is imported before the first JAX computation (every entry point here does). A
    user's own setting of the flag wins.
    """
    try:
        version = tuple(int(p) for p in importlib.metadata.version("jaxlib").split(".")[:3])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return
    if not (0, 10, 2) <= version < (0, 11, 0):  # the flag is unknown to older XLA (fatal)
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_experimental_ynn_fusion_type" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_experimental_ynn_fusion_type=".strip()


_disable_xla_cpu_ynn_fusions()
