"""Figure modules: each ``make(config, outdir) -> FigureResult`` draws one figure.

A figure is selected by a config file ``configs/figures/<name>.py`` whose ``get_config(arg)``
sets ``module`` (a module of this package) and the figure's parameters; ``arg='quick'`` gives the
small version the tests run. ``python -m experiments.figures`` regenerates them all.
"""
