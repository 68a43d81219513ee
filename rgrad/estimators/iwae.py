"""Estimators for importance-weighted bounds of reparameterized latents: STL and DReG.

(Being written: see issue 19.)
"""

from __future__ import annotations

REGISTERED: tuple = ()
