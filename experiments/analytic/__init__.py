"""Closed-form references: problems whose exact gradients or optima the figures and tests use."""
