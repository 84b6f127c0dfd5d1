"""Identity errors.

ZevvyError
├── InvalidInput
│   ├── WeakPassword
│   └── InvalidRole
├── Conflict
│   ├── UsernameTaken          409 username_taken
│   └── OrganizationNameTaken  409 name_taken
├── NotFound
│   ├── UserNotFound
│   └── OrganizationNotFound
├── PermissionDenied
│   └── InvalidCredentials     login failed (never says which part was wrong)
└── RateLimited
    └── TooManyAttempts
"""

from __future__ import annotations

from zevvy_server.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited


class WeakPassword(InvalidInput):
    """The password is too short."""

    code = "weak_password"
    message = "The password must have at least 10 characters."


class InvalidRole(InvalidInput):
    """Not one of admin, editor, viewer."""

    code = "invalid_role"
    message = "The role must be admin, editor or viewer."


class UsernameTaken(Conflict):
    """Another account has this username."""

    code = "username_taken"
    message = "This username is taken."


class OrganizationNameTaken(Conflict):
    """Another organization has this name."""

    code = "name_taken"
    message = "This organization name is taken."


class UserNotFound(NotFound):
    """No such account."""

    message = "No such user."


class OrganizationNotFound(NotFound):
    """No such organization."""

    message = "No such organization."


class InvalidCredentials(PermissionDenied):
    """Username or password wrong, or the account is disabled."""

    code = "invalid_credentials"
    message = "Invalid username or password."


class TooManyAttempts(RateLimited):
    """Too many failed attempts for this account or address."""

    message = "Too many failed attempts. Try again later."
