"""factory-boy, bound to the test's session.

Subclass `SessionFactory` for your models. Factories flush (not commit), so the rows
get their ids and defaults but stay inside the test's isolation. A factory used
without the `factory_session` fixture (fixtures.py) fails with a message saying so.
"""

from __future__ import annotations

from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy.orm import Session

from .fixtures import FACTORY_SESSION


def current_session() -> Session:
    session = FACTORY_SESSION.get()
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
