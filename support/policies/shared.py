"""One immutable policy snapshot (and case calendar) per content in a worker, shared by every case
opened under it, instead of a decoded copy per cached case (issue 26: memory per cached case).

A case decodes its policy from a payload (the context's local-activity result, or the carried
state after continue-as-new). `shared(policy)` answers the first live snapshot with the same
content, found by the hash of its canonical JSON, so the case's own copy is garbage at once.
The table holds its snapshots weakly: a version no cached case uses any more is freed.

Deterministic: the snapshot answered is equal, field for field, to the one given (the same
content), and policies and calendars are frozen models, so which object a case holds never
changes what it decides. This module is passed through the workflow sandbox (it is imported
from `support/`, as every rule is), which is what makes the table one per worker process.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from typing import TypeVar

from pydantic import BaseModel

from support.policies.policy import Policy
from support.sla_clocks.calendar import Calendar

_M = TypeVar("_M", bound=BaseModel)

_LOCK = threading.Lock()  # workflow tasks of different cases run on the worker's threads
_POLICIES: weakref.WeakValueDictionary[str, Policy] = weakref.WeakValueDictionary()
_CALENDARS: weakref.WeakValueDictionary[str, Calendar] = weakref.WeakValueDictionary()


def content_hash(model: BaseModel) -> str:
    """The hash of a model's canonical JSON (what two equal snapshots share)."""
    return hashlib.sha256(model.model_dump_json().encode()).hexdigest()


# The snapshots already interned, by identity: a case handed the snapshot itself (the what-if
# re-deciding thousands of cases under one proposed policy, a case's policy set again) is answered
# without hashing its JSON again, which cost ~0.6 ms a case.
_HELD: dict[int, weakref.ReferenceType[BaseModel]] = {}


def _held(model: BaseModel) -> weakref.ReferenceType[BaseModel]:
    """A weak reference that forgets the model's identity when it is freed (no lock: the callback
    may run inside a collection while this thread holds `_LOCK`; one dict pop is atomic)."""
    key = id(model)

    def forget(_: object) -> None:
        _HELD.pop(key, None)

    return weakref.ref(model, forget)


def _interned(table: weakref.WeakValueDictionary[str, _M], model: _M) -> _M:
    held = _HELD.get(id(model))
    if held is not None and held() is model:
        return model
    key = content_hash(model)
    with _LOCK:
        found = table.get(key)
        if found is None:
            table[key] = found = model
            _HELD[id(found)] = _held(found)
        return found


def shared(policy: Policy) -> Policy:
    """The worker's one snapshot with this policy's content (`policy` itself if it is the first)."""
    return _interned(_POLICIES, policy)


def shared_calendar(calendar: Calendar) -> Calendar:
    """The worker's one calendar with this content (a case calendar in a tenant's zone is built
    per case: cases of one zone and severity share it)."""
    return _interned(_CALENDARS, calendar)


def live_snapshots() -> tuple[int, int]:
    """How many policies and calendars are held now (a bench and a test read it)."""
    with _LOCK:
        return len(_POLICIES), len(_CALENDARS)
