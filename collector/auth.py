"""Bearer tokens for the admin and read endpoints; no token configured means closed."""

from __future__ import annotations

import secrets

from fastapi.security import HTTPAuthorizationCredentials
from pydantic import SecretStr

from collector.errors import ApiError
from collector.validation.problems import Problem


def check_bearer(
    credentials: HTTPAuthorizationCredentials | None, expected: SecretStr | None, env_name: str
) -> None:
    """401 without a token, 403 with a wrong one or when no token is configured."""
    if expected is None or not expected.get_secret_value():
        raise ApiError(
            403,
            Problem(
                "endpoint_closed",
                None,
                f"this endpoint is closed: the collector has no {env_name} configured",
            ),
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401,
            Problem("missing_token", None, "send 'Authorization: Bearer <token>'"),
            {"WWW-Authenticate": "Bearer"},
        )
    if not secrets.compare_digest(
        credentials.credentials.encode(), expected.get_secret_value().encode()
    ):
        raise ApiError(403, Problem("invalid_token", None, "the bearer token is not valid here"))
