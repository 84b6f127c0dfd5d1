"""Metering errors.

ZevvyError
├── NotFound                    404 not_found
│   ├── DeviceNotFound
│   ├── RegisterNotFound
│   ├── ConflictNotFound
│   └── StructureNotFound       property, usage unit, measurement point, assignment
├── Conflict                    409
│   ├── ReferenceTaken          reference_taken (existingId)
│   ├── NameTaken               name_taken (existingId)
│   ├── DeviceHasData           device_has_data (registers, measurements)
│   ├── AssignmentOverlap       assignment_overlap (assignmentId)
│   ├── UnitLocked              unit_locked (measurements)
│   ├── ConflictResolved        conflict_resolved (status)
│   └── InUse                   in_use (what still refers to it)
├── InvalidInput                422
│   └── BulkInvalid             validation_failed | duplicate_instant, details + total
├── PayloadTooLarge             413 payload_too_large (maxReadings, maxBytes)
└── PermissionDenied            403 forbidden (viewer tokens cannot write)
"""

from __future__ import annotations

from typing import Any

from zevvy_server.errors import Conflict, InvalidInput, NotFound, ZevvyError

MAX_DETAILS = 100


class DeviceNotFound(NotFound):
    """No such device in the caller's organization."""

    message = "No such device."


class RegisterNotFound(NotFound):
    """No such register in the caller's organization."""

    message = "No such register."


class ConflictNotFound(NotFound):
    """No such conflict on this register."""

    message = "No such conflict."


class StructureNotFound(NotFound):
    """No such property, usage unit, measurement point or assignment."""


class ReferenceTaken(Conflict):
    """Another device (or register of the device) has this reference."""

    code = "reference_taken"
    message = "This reference is taken."

    def __init__(self, existing_id: str, message: str | None = None) -> None:
        super().__init__(message, extra={"existingId": existing_id})


class NameTaken(Conflict):
    """Another device (or register of the device) has this name (compared in NFC form)."""

    code = "name_taken"
    message = "This name is taken."

    def __init__(self, existing_id: str, message: str | None = None) -> None:
        super().__init__(message, extra={"existingId": existing_id})


class DeviceHasData(Conflict):
    """Deleting would destroy readings; the caller must confirm."""

    code = "device_has_data"
    message = "This has stored readings; repeat with confirm=true to delete them too."

    def __init__(self, registers: int, measurements: int, message: str | None = None) -> None:
        super().__init__(message, extra={"registers": registers, "measurements": measurements})


class AssignmentOverlap(Conflict):
    """The register is already assigned for part of this period."""

    code = "assignment_overlap"
    message = "The register is already assigned for part of this period."

    def __init__(self, assignment_id: str, message: str | None = None) -> None:
        super().__init__(message, extra={"assignmentId": assignment_id})


class UnitLocked(Conflict):
    """A register's unit cannot change once it has readings."""

    code = "unit_locked"
    message = "The unit cannot change while the register has readings."

    def __init__(self, measurements: int) -> None:
        super().__init__(None, extra={"measurements": measurements})


class ConflictResolved(Conflict):
    """The conflict was already accepted or rejected."""

    code = "conflict_resolved"
    message = "This conflict is already resolved."

    def __init__(self, status: str) -> None:
        super().__init__(f"This conflict is already {status}.", extra={"status": status})


class InUse(Conflict):
    """Something still refers to the thing to delete."""

    code = "in_use"
    message = "Something still refers to this; remove that first."


class PayloadTooLarge(ZevvyError):
    """The request carries more readings or bytes than one request may."""

    code = "payload_too_large"
    status = 413

    def __init__(self, max_readings: int, max_bytes: int) -> None:
        super().__init__(
            f"A request may carry at most {max_readings} readings and {max_bytes} bytes "
            "(after gzip decoding); split it into several requests.",
            extra={"maxReadings": max_readings, "maxBytes": max_bytes},
        )


class BulkInvalid(InvalidInput):
    """The request breaks a rule; every problem found is listed (up to 100) with the total."""

    def __init__(
        self,
        details: list[dict[str, Any]],
        *,
        total: int | None = None,
        code: str = "validation_failed",
        message: str | None = None,
    ) -> None:
        super().__init__(
            message or "The request is invalid; nothing was stored.",
            details=details[:MAX_DETAILS],
            extra={"total": len(details) if total is None else total},
        )
        self.code = code


def invalid(pointer: str, problem: str, message: str | None = None) -> BulkInvalid:
    """One problem with one member, as a 422 validation_failed."""
    detail: dict[str, Any] = {"pointer": pointer, "problem": problem}
    if message:
        detail["message"] = message
    return BulkInvalid([detail], message=message)
