"""A case past Temporal's retention is read from its closed record (`adapters.closed_cases`): the
final view, with the request's words the archive kept, opened with the environment's key ring."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from adapters.closed_cases import read_closed_case
from adapters.codec import SealError, key_ring_from_env
from application.cases import ClosedViews, Unavailable
from support.case.view import CaseView


def closed_views(engine: Engine) -> ClosedViews:
    """The reader `Cases.show` falls back on when Temporal does not know a case."""
    keys = key_ring_from_env()

    async def read(case_id: str) -> CaseView | None:
        try:
            return await asyncio.to_thread(read_closed_case, engine, case_id, keys)
        except SealError as error:
            raise Unavailable(
                f"the closed record of {case_id} is sealed with a key this process does not have"
            ) from error
        except SQLAlchemyError as error:
            problem = type(error).__name__
            raise Unavailable(f"the closed record of {case_id} cannot be read: {problem}") from None

    return read
