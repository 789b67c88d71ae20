"""The composition root: the one place that builds settings, adapters, the worker, the API and the CLI.

`worker.py` and `starter.py` parse their arguments and call `bootstrap.main`; the worker process
(`bootstrap.runner`) serves the in-process API from here too. Nothing below imports this package.
"""
