"""Pure tests: no server, no process, no network (make test-fast)."""
