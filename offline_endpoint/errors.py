"""The service's error shape: ``{"error": {"code": ..., "message": ...}}`` with a status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiError(Exception):
    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    inner_error: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner_error is not None:
            error["innererror"] = self.inner_error
        return {"error": error}
