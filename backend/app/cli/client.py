"""A small synchronous client of the studio's /api/v1, with errors a shell user can act on."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

# Generation can take minutes; the live stream has keep-alives every 15 s.
READ_TIMEOUT = 60.0


class CliError(Exception):
    """Something the user must hear about; ``exit_code`` is what the process ends with."""

    exit_code = 1

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ConnectionFailed(CliError):
    exit_code = 3


class ApiError(CliError):
    """The studio answered 4xx/5xx (its machine-readable code and message)."""

    exit_code = 4

    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status


class TaskFailed(CliError):
    exit_code = 5


def _error_from(response: httpx.Response) -> ApiError:
    code: str | None = None
    message = response.reason_phrase or f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            code = error.get("code") if isinstance(error.get("code"), str) else None
            if isinstance(error.get("message"), str):
                message = error["message"]
    if response.status_code == 401:
        message += " (give a token with --token or STUDIO_TOKEN)"
    return ApiError(response.status_code, f"HTTP {response.status_code}: {message}", code=code)


class StudioClient:
    def __init__(self, base_url: str, token: str | None = None, *, language: str = "en", timeout: float = 30.0) -> None:
        headers = {"Accept-Language": language, "User-Agent": "studio-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout, read=READ_TIMEOUT), trust_env=False
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> StudioClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ConnectionFailed(f"cannot reach the studio at {self.base_url}: {exc}") from None
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ApiError(response.status_code, f"{path} did not answer JSON (is {self.base_url} a studio?)") from None

    # --- the API ---------------------------------------------------------------------------------

    def upload(self, path: Path) -> str:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror}") from None
        body = self.json("POST", "/api/v1/uploads", files={"file": (path.name, data, content_type)})
        return str(body["id"])

    def generate(self, body: dict[str, Any]) -> dict[str, Any]:
        path = "/api/v1/generate/image2image" if body.get("images") else "/api/v1/generate/text2image"
        created: dict[str, Any] = self.json("POST", path, json=body)
        return created

    def task(self, task_id: str) -> dict[str, Any]:
        task: dict[str, Any] = self.json("GET", f"/api/v1/tasks/{task_id}")
        return task

    def history(self, **params: Any) -> dict[str, Any]:
        page: dict[str, Any] = self.json("GET", "/api/v1/history", params={k: v for k, v in params.items() if v})
        return page

    def usage_summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = self.json("GET", "/api/v1/usage/summary")
        return summary

    def usage(self, start: str, end: str, group_by: str) -> dict[str, Any]:
        report: dict[str, Any] = self.json(
            "GET", "/api/v1/usage", params={"from": start, "to": end, "group_by": group_by}
        )
        return report

    def follow(self, task_id: str) -> Iterator[dict[str, Any]]:
        """The task's states as the studio sends them (Server-Sent Events), until it ends."""
        try:
            with self._http.stream("GET", f"/api/v1/tasks/{task_id}/events") as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_from(response)
                event, data = "", ""
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data = line[5:].strip()
                    elif not line:
                        if event == "end":
                            return
                        if event == "task" and data:
                            yield json.loads(data)
                        event, data = "", ""
        except httpx.HTTPError as exc:
            raise ConnectionFailed(f"the studio's event stream broke off: {exc}") from None

    def download(self, url: str, target: Path) -> int:
        """Save an image (a URL of the studio, absolute or /images/...) to ``target``; its size."""
        tmp = target.with_name(target.name + ".part")
        try:
            with self._http.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_from(response)
                size = 0
                with tmp.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                        size += len(chunk)
            tmp.replace(target)
        except httpx.HTTPError as exc:
            tmp.unlink(missing_ok=True)
            raise ConnectionFailed(f"downloading {url} failed: {exc}") from None
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CliError(f"cannot write {target}: {exc.strerror}") from None
        return size
