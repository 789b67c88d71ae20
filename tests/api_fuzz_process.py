"""The schemathesis run of tests/system/test_api_fuzz.py, in a process of its own:
`python -m tests.api_fuzz_process URL TOKEN EXAMPLES` prints one JSON line of what it sent.

Why a process of its own: hypothesis parses Python source (`ast.parse`) all the time (filter
predicates, lambdas, the constants of every loaded module: ~1,500 parses in one run). On CPython
3.11 before 3.11.8 the AST constructor keeps its recursion depth in interpreter-wide state
(gh-106905, fixed by python/cpython#113476), so a parse that a garbage collection interrupts,
with a finaliser that parses too (3.11's traceback formatting parses each line's segment) or that
lets another thread of the process parse meanwhile, ends in `SystemError: AST constructor
recursion depth mismatch`. The pytest process has other threads and the garbage of every test
file run before (under xdist, a process runs many files). Here there is one thread, and garbage is
collected only between examples, outside any parse: a parse can be interrupted by nothing.
"""

from __future__ import annotations

import gc
import itertools
import json
import sys
import threading
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error


@schemathesis.serializer("application/toml")
def _toml(_: Any, value: Any) -> bytes:
    """The what-if's body is a policy file (TOML text): sent as the text generated, bytes as they are."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


def fuzz(api_url: str, token: str, examples: int) -> dict[str, Any]:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    calls: list[int] = []
    for operation, mode in itertools.product(operations, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)):

        @given(operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case: Any) -> None:
            response = case.call_and_validate(
                base_url=api_url,
                headers={"Authorization": f"Bearer {token}"},
                checks=[not_a_server_error],
                timeout=30,
            )
            calls.append(response.status_code)
            gc.collect(1)  # between examples: never inside a parse

        check()
        gc.collect()
    return {
        "operations": len(operations),
        "statuses": sorted(Counter(calls).items()),
        "requests": len(calls),
        "threads": threading.active_count(),
    }


def main(argv: list[str]) -> int:
    api_url, token, examples = argv[0], argv[1], int(argv[2])
    gc.disable()  # collections happen between examples only (see above)
    print(json.dumps(fuzz(api_url, token, examples)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
