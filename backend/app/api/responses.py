"""Responses more than one router answers with."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from app.models.task import Task
from app.schemas.generation import TaskCreated


def task_created(task: Task, message: str) -> JSONResponse:
    """202 with the new (or, for a repeated Idempotency-Key, the earlier) task."""
    body = TaskCreated(task_id=task.id, status=task.status, message=message, created_at=task.created_at)
    return JSONResponse(body.model_dump(mode="json"), status_code=202)


def task_submitted(task: Task, fresh: bool, zh: bool) -> JSONResponse:
    """202 for a submit: a new task, or the earlier one a repeated Idempotency-Key names."""
    if fresh:
        message = "任务已创建，正在排队。" if zh else "Task created and queued."
    else:
        message = "该 Idempotency-Key 已提交过，返回原任务。" if zh else "Same Idempotency-Key as an earlier request: returning that task."
    return task_created(task, message)
