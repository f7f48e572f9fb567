"""A small FastAPI app standing in for yours: users, and orders only their owner sees.

`create_app()` builds it; `get_session` is the one place its handlers get a database
session, so a test replaces that dependency with the test's isolated sessions
(FastAPI's "Testing Dependencies with Overrides"). Nothing here connects at import or
at start-up: tests, and Schemathesis when it loads the schema, never reach the
database the app would use in production.

Every status code a handler can return is in the OpenAPI schema (`responses=`): the
contract tests hold the app to it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    HTTPException,
    Path,
    Query,
    Request,
    status,
)
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..models import (
    DISPLAY_NAME_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    SampleOrder,
    SampleUser,
)

# Ids and amounts are INTEGER columns: larger numbers are a 422, not a database error.
MAX_INT = 2**31 - 1
PAGE_SIZE_LIMIT = 100
# PostgreSQL text cannot hold NUL characters: refuse them at the door.
NO_NUL = r"^[^\x00]*$"
EMAIL = r"^[^@\s\x00]+@[^@\s\x00]+$"
DEFAULT_ORIGINS = ("https://app.example.test",)
# What a 503 asks a client to wait before it tries again.
RETRY_AFTER_SECONDS = 5

Id = Annotated[int, Path(ge=1, le=MAX_INT)]


class UserIn(BaseModel):
    email: str = Field(max_length=EMAIL_MAX_LENGTH, pattern=EMAIL)
    display_name: str | None = Field(
        default=None, max_length=DISPLAY_NAME_MAX_LENGTH, pattern=NO_NUL
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str | None


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class OrderIn(BaseModel):
    total_cents: int = Field(ge=0, le=MAX_INT)
    note: str | None = Field(default=None, max_length=NOTE_MAX_LENGTH, pattern=NO_NUL)


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    total_cents: int
    note: str | None


class Problem(BaseModel):
    """What HTTPException responses look like, so that the schema says so."""

    detail: str


@cache
def _production_sessions() -> sessionmaker[Session]:
    """The app's own database, made on the first request; tests never get here."""
    return sessionmaker(create_engine(os.environ["DATABASE_URL"]))


def get_session() -> Iterator[Session]:
    """One session per request. Tests override this dependency."""
    with _production_sessions()() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials, Depends(HTTPBearer())]


def issue_token(user_id: int, secret: str) -> str:
    """A signed token naming a user: a stand-in for your login and its JWTs."""
    signature = hmac.new(secret.encode(), str(user_id).encode(), hashlib.sha256)
    return f"{user_id}.{signature.hexdigest()}"


def user_id_in(token: str, secret: str) -> int | None:
    """The user a token names, if it is one we signed."""
    user_id, _, _ = token.partition(".")
    if not user_id.isascii() or not user_id.isdigit() or int(user_id) > MAX_INT:
        return None
    expected = issue_token(int(user_id), secret).encode()
    return int(user_id) if hmac.compare_digest(expected, token.encode()) else None


def current_user(
    credentials: Credentials, session: SessionDep, request: Request
) -> SampleUser:
    """The user the bearer token names. No token at all is HTTPBearer's own 401."""
    user_id = user_id_in(credentials.credentials, request.app.state.token_secret)
    user = None if user_id is None else session.get(SampleUser, user_id)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[SampleUser, Depends(current_user)]


router = APIRouter()
Responses = dict[int | str, dict[str, Any]]
BAD_REQUEST: Responses = {400: {"model": Problem, "description": "Not JSON"}}
CONFLICT: Responses = {409: {"model": Problem, "description": "Already there"}}
NOT_FOUND: Responses = {404: {"model": Problem, "description": "No such resource"}}
UNAUTHORIZED: Responses = {
    401: {"model": Problem, "description": "Missing or invalid bearer token"}
}
FORBIDDEN: Responses = {403: {"model": Problem, "description": "Someone else's"}}


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=CONFLICT,
)
def create_user(body: UserIn, session: SessionDep) -> SampleUser:
    user = SampleUser(email=body.email, display_name=body.display_name)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        # Undoes this request's work only; the session (and the test's) stays usable.
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT, "email already registered"
        ) from None
    return user


@router.get("/users", response_model=UserPage)
def list_users(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> UserPage:
    # Ordered by id: pages neither skip nor repeat rows.
    page = select(SampleUser).order_by(SampleUser.id).limit(limit).offset(offset)
    items = [UserOut.model_validate(user) for user in session.scalars(page)]
    total = session.scalar(select(func.count()).select_from(SampleUser)) or 0
    return UserPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/users/{user_id}", response_model=UserOut, responses=NOT_FOUND)
def get_user(user_id: Id, session: SessionDep) -> SampleUser:
    user = session.get(SampleUser, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user")
    return user


@router.post(
    "/orders",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderOut,
    responses=UNAUTHORIZED,
)
def place_order(body: OrderIn, user: CurrentUser, session: SessionDep) -> SampleOrder:
    order = SampleOrder(user_id=user.id, total_cents=body.total_cents, note=body.note)
    session.add(order)
    session.commit()
    return order


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    responses=UNAUTHORIZED | FORBIDDEN | NOT_FOUND,
)
def get_order(order_id: Id, user: CurrentUser, session: SessionDep) -> SampleOrder:
    order = session.get(SampleOrder, order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such order")
    if order.user_id != user.id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not your order")
    return order


def create_app(
    *,
    token_secret: str,
    cors_origins: Sequence[str] = DEFAULT_ORIGINS,
    webhook_secret: str | None = None,
) -> FastAPI:
    """A new app: each test gets its own, and with it its own dependency_overrides.

    Without a `webhook_secret` the app makes up one that no sender knows: webhooks
    are then refused, never accepted unsigned.
    """
    # Imported here: both modules use this one's dependencies (an import cycle).
    from . import versions, webhooks

    app = new_app(router, token_secret=token_secret, cors_origins=cors_origins)
    app.state.webhook_secret = webhook_secret or secrets.token_urlsafe(32)
    app.include_router(versions.router)
    app.include_router(webhooks.router)
    # The database is down (or unreachable): a 503 the client may retry, not a 500.
    app.add_exception_handler(OperationalError, database_unavailable)
    return app


def database_unavailable(_request: Request, _error: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "database unavailable"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def new_app(
    routes: APIRouter, *, token_secret: str, cors_origins: Sequence[str]
) -> FastAPI:
    """The app around `routes`: what the sync and the async app share."""
    # A body that is not JSON at all is Starlette's 400, on every operation.
    app = FastAPI(title="Sample users API", responses=BAD_REQUEST)
    app.state.token_secret = token_secret
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
    )
    app.include_router(routes)
    return app
