"""rgrad's applications: tasks, configs' entry points, figures, benchmarks, tools.

Importing this package sets ``EQX_ON_ERROR=nan`` unless the user chose a value: equinox's
runtime checks inside diffrax solves (``eqx.error_if``) are host callbacks, which add about a
second and a half of tracing to every program that solves an ODE and keep it out of JAX's
persistent compilation cache (``JAX_COMPILATION_CACHE_DIR``). Our solves already run with
``throw=False`` and report a failed solve as ``inf`` (``rgrad.ode.solve``), so a NaN in place
of an exception is the same signal, caught by the loop's non-finite guard. It takes effect
only if equinox was not imported before ``experiments``.
"""

import os

os.environ.setdefault("EQX_ON_ERROR", "nan")
