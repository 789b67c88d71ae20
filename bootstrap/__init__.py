"""The composition root: the one place that builds settings, adapters, the worker, the API and the CLI.

`worker.py` and `starter.py` parse their arguments and call `bootstrap.main`. Here the settings are
read, the database engine and the Temporal client opened, and handed to what uses them: the worker
(`worker_runtime`), the gateway to the cases (`gateway`), the HTTP API (`api`) and the CLI (`cli`).
The worker process (`runner`) opens one engine and one client, and its in-process API (`make run`)
uses both. Nothing below imports this package; application/ and interfaces/ open no engine and no connection
itself.
"""
