"""factory-boy, bound to the test's session.

Subclass `SessionFactory` for your models. Factories flush (not commit), so the rows
get their ids and defaults but stay inside the test's isolation. A factory used
without the `factory_session` fixture fails with a message saying so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar

import pytest
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy.orm import Session

_session: ContextVar[Session | None] = ContextVar("factory_session", default=None)


def current_session() -> Session:
    session = _session.get()
    if session is None:
        raise RuntimeError(
            "A factory was used outside a database test: request the `factory_session` "
            "fixture (or a *_factory fixture that depends on it) in this test."
        )
    return session


class SessionFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = current_session
        sqlalchemy_session_persistence = "flush"


@pytest.fixture
def factory_session(db_session: Session) -> Iterator[Session]:
    """Bind every SessionFactory to this test's session for the duration of the test."""
    token = _session.set(db_session)
    yield db_session
    _session.reset(token)
