"""Unbiased estimators for discrete latents: RLOO, NVIL, VIMCO, ARM, DisARM, IndeCateR.

(Being written: see issue 19.)
"""

from __future__ import annotations

REGISTERED: tuple = ()
