"""Two versions of one resource, served from the same rows, and content negotiation.

`/v1/users/{id}` is the old shape (a flat `display_name`), kept for the clients that
still use it; `/v2/users/{id}` nests the profile. Both read the same `sample_users`
row: a version is a view, not a copy of the data. v1 answers with the headers that
tell its clients to move: `Deprecation` (RFC 9745: since when, as `@<unix time>`),
`Sunset` (RFC 8594: when it goes away) and a `Link` to its successor.

Both answer JSON only: an `Accept` header that does not allow it is a 406, not a JSON
body the client said it cannot read.
"""

from __future__ import annotations

import calendar
from email.utils import formatdate

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel

from ..models import SampleUser
from .app import Id, Problem, Responses, SessionDep

JSON = "application/json"
# Ranges that let a client read JSON (RFC 9110, section 12.5.1).
JSON_RANGES = frozenset({JSON, "application/*", "*/*"})
# In Unix seconds (UTC): 2026-12-01, when v2 came, and 2027-06-01, when v1 goes.
V1_DEPRECATED = calendar.timegm((2026, 12, 1, 0, 0, 0))
V1_SUNSET = calendar.timegm((2027, 6, 1, 0, 0, 0))


def _allows_json(accept: str) -> bool:
    """Whether an Accept header lists a range that matches JSON with q above 0."""
    for item in accept.split(","):
        media_range, *parameters = (part.strip() for part in item.split(";"))
        if media_range.lower() in JSON_RANGES and _quality(parameters) > 0:
            return True
    return False


def _quality(parameters: list[str]) -> float:
    """The q of a media range: 1 when absent, 0 (not acceptable) when unreadable."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def json_acceptable(request: Request) -> None:
    """406 unless the client can read JSON; no Accept header means anything goes."""
    accept = request.headers.get("accept")
    if accept is not None and not _allows_json(accept):
        raise HTTPException(
            status.HTTP_406_NOT_ACCEPTABLE, f"this API answers {JSON} only"
        )


class UserV1(BaseModel):
    id: int
    email: str
    display_name: str | None


class Profile(BaseModel):
    display_name: str | None
    newsletter: bool


class UserV2(BaseModel):
    id: int
    email: str
    profile: Profile


RESPONSES: Responses = {
    404: {"model": Problem, "description": "No such user"},
    406: {"model": Problem, "description": "The client does not accept JSON"},
}
router = APIRouter(dependencies=[Depends(json_acceptable)], responses=RESPONSES)


def _user(session: SessionDep, user_id: int) -> SampleUser:
    user = session.get(SampleUser, user_id)
    if user is None:
        raise HTTPException(status_code=404, detail=f"no user {user_id}")
    return user


@router.get("/v1/users/{user_id}", response_model=UserV1, deprecated=True)
def get_user_v1(user_id: Id, session: SessionDep, response: Response) -> UserV1:
    user = _user(session, user_id)
    response.headers["Deprecation"] = f"@{V1_DEPRECATED}"
    response.headers["Sunset"] = formatdate(V1_SUNSET, usegmt=True)
    response.headers["Link"] = f'</v2/users/{user.id}>; rel="successor-version"'
    return UserV1(id=user.id, email=user.email, display_name=user.display_name)


@router.get("/v2/users/{user_id}", response_model=UserV2)
def get_user_v2(user_id: Id, session: SessionDep) -> UserV2:
    user = _user(session, user_id)
    profile = Profile(display_name=user.display_name, newsletter=user.newsletter)
    return UserV2(id=user.id, email=user.email, profile=profile)
