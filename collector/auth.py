"""Bearer tokens for the admin, read and refund endpoints; no token configured means closed."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from fastapi.security import HTTPAuthorizationCredentials
from pydantic import SecretStr

from collector.errors import ApiError
from collector.validation.problems import Problem


def check_bearer(
    credentials: HTTPAuthorizationCredentials | None, expected: SecretStr | None, env_name: str
) -> None:
    """401 without a token, 403 with a wrong one or when no token is configured."""
    check_bearer_any(credentials, {env_name: expected})


def check_bearer_any(
    credentials: HTTPAuthorizationCredentials | None,
    accepted: Mapping[str, SecretStr | None],
) -> None:
    """As `check_bearer`, for an endpoint that any of several tokens opens (by the name of
    its environment variable). Closed only when none of them is configured."""
    configured = [
        t.get_secret_value().encode()
        for t in accepted.values()
        if t is not None and t.get_secret_value()
    ]
    if not configured:
        names = " or ".join(accepted)
        raise ApiError(
            403,
            Problem(
                "endpoint_closed",
                None,
                f"this endpoint is closed: the collector has no {names} configured",
            ),
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401,
            Problem("missing_token", None, "send 'Authorization: Bearer <token>'"),
            {"WWW-Authenticate": "Bearer"},
        )
    sent = credentials.credentials.encode()
    # Every configured token is compared, so the time taken does not tell which one is set.
    matches = [secrets.compare_digest(sent, token) for token in configured]
    if not any(matches):
        raise ApiError(403, Problem("invalid_token", None, "the bearer token is not valid here"))
