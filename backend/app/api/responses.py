"""Responses more than one router answers with."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from app.models.task import Task
from app.schemas.generation import TaskCreated


def task_created(task: Task, message: str) -> JSONResponse:
    """202 with the new (or, for a repeated Idempotency-Key, the earlier) task."""
    body = TaskCreated(task_id=task.id, status=task.status, message=message, created_at=task.created_at)
    return JSONResponse(body.model_dump(mode="json"), status_code=202)
