"""The `studio` commands: generate, history, get, usage.

Exit codes: 0 done; 1 any other error; 2 wrong usage (click); 3 the studio cannot be reached;
4 the studio refused the request (its HTTP status and message are printed); 5 the task failed or
was cancelled; 130 interrupted (the task keeps running in the studio: `studio get ID` later).
"""

from __future__ import annotations

import mimetypes
import re
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli.client import CliError, ConnectionFailed, StudioClient, TaskFailed

DEFAULT_URL = "http://localhost:3000"
TERMINAL = frozenset({"completed", "failed", "cancelled"})

out = Console()
err = Console(stderr=True)


def _client(ctx: click.Context) -> StudioClient:
    obj: dict[str, Any] = ctx.ensure_object(dict)
    client: StudioClient = ctx.with_resource(StudioClient(obj["url"], obj["token"], language=obj["language"]))
    return client


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe piece of a prompt (letters of any script kept, the rest folded to '-')."""
    cleaned = re.sub(r"[^\w]+", "-", text.strip().lower(), flags=re.UNICODE).strip("-_")
    return cleaned[:limit].rstrip("-_") or "image"


def file_names(task: dict[str, Any]) -> list[tuple[str, str]]:
    """(url, file name) of each stored image: date, prompt slug, task, index; the served type's extension."""
    created = str(task.get("created_at") or "")[:19].replace("-", "").replace(":", "").replace("T", "-")
    names = []
    for output in task.get("outputs") or []:
        if output.get("missing"):
            continue
        ext = mimetypes.guess_extension(output.get("content_type") or "") or Path(output["url"]).suffix or ".png"
        ext = ".jpg" if ext == ".jpe" else ext
        name = f"{created}_{slug(task.get('prompt', ''))}_{task['task_id'][:8]}_{output['index'] + 1}{ext}"
        names.append((output["url"], name))
    return names


def save_images(client: StudioClient, task: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for url, name in file_names(task):
        target = out_dir / name
        client.download(url, target)
        saved.append(target)
    return saved


def _describe_failure(task: dict[str, Any]) -> str:
    error = task.get("error") or {}
    message = error.get("message") if isinstance(error, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return f"task {task['task_id']} {task['status']}" + (f" ({code}): {message}" if message else "")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", envvar="STUDIO_URL", default=DEFAULT_URL, show_default=True, help="The studio (env STUDIO_URL).")
@click.option("--token", envvar="STUDIO_TOKEN", default=None, help="API token or APP_PASSWORD (env STUDIO_TOKEN).")
@click.option("--zh", "language", flag_value="zh-CN", help="Messages from the studio in Chinese.")
@click.option("--en", "language", flag_value="en", default=True, help="Messages from the studio in English.")
@click.version_option(package_name="volcengine-image-studio", prog_name="studio")
@click.pass_context
def cli(ctx: click.Context, url: str, token: str | None, language: str) -> None:
    """Volcengine Image Studio from the command line: generate, browse history, see spend."""
    ctx.ensure_object(dict).update(url=url, token=token, language=language)


@cli.command()
@click.argument("prompt")
@click.option("--model", "-m", default=None, help="Model id (the studio's default when omitted).")
@click.option("-n", "num_images", type=click.IntRange(1, 4), default=1, show_default=True, help="Images to make.")
@click.option("--size", "-s", default=None, help='"2K", "1024x1024", ... as the model allows.')
@click.option("--ref", "refs", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A reference image (repeat for several): image-to-image.")
@click.option("--negative", default=None, help="Negative prompt, where the model takes one.")
@click.option("--seed", type=int, default=None)
@click.option("--group", "group_max", type=click.IntRange(1, 15), default=None,
              help="A group of up to this many related images (models that make groups).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where the images are saved.")
@click.option("--no-wait", is_flag=True, help="Print the task id and return at once.")
@click.pass_context
def generate(
    ctx: click.Context, prompt: str, model: str | None, num_images: int, size: str | None, refs: tuple[Path, ...],
    negative: str | None, seed: int | None, group_max: int | None, out_dir: Path, no_wait: bool,
) -> None:
    """Generate from PROMPT, follow the job live, then save the images."""
    client = _client(ctx)
    body: dict[str, Any] = {"prompt": prompt, "num_images": num_images}
    for key, value in (("model", model), ("size", size), ("negative_prompt", negative), ("seed", seed)):
        if value is not None:
            body[key] = value
    if group_max:
        body["group"] = {"max_images": group_max}
    if refs:
        body["images"] = [client.upload(path) for path in refs]
    created = client.generate(body)
    task_id = str(created["task_id"])
    if no_wait:
        click.echo(task_id)  # plain lines on stdout, never wrapped: for scripts
        return
    err.print(f"task {task_id} queued")
    task = _follow(client, task_id)
    if task["status"] != "completed":
        raise TaskFailed(_describe_failure(task))
    saved = save_images(client, task, out_dir)
    for path in saved:
        click.echo(str(path))
    cost = task.get("cost_cny")
    err.print(f"{len(saved)} image(s) saved" + (f", cost {cost:g} CNY" if isinstance(cost, (int, float)) else ""))
    if task.get("failures"):
        err.print(f"[yellow]{len(task['failures'])} of {task['expected_images']} image(s) failed[/yellow]")


def _follow(client: StudioClient, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = {"task_id": task_id, "status": "pending"}
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        bar = progress.add_task("pending", total=100)
        for state in client.follow(task_id):
            task = state
            progress.update(bar, completed=int(state.get("progress") or 0), description=str(state["status"]))
            if state["status"] in TERMINAL:
                break
    if task["status"] not in TERMINAL:
        # The stream ended without a final state (a restart on the way): ask once more.
        deadline = time.monotonic() + 600
        while task["status"] not in TERMINAL and time.monotonic() < deadline:
            time.sleep(1.0)
            try:
                task = client.task(task_id)
            except ConnectionFailed:
                # The studio is restarting (that is why the stream ended): wait for it.
                continue
    return task


@cli.command()
@click.option("--search", "-q", default=None, help="Words of the prompt (Chinese or English).")
@click.option("--model", "-m", default=None)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The studio's JSON as is.")
@click.pass_context
def history(ctx: click.Context, search: str | None, model: str | None, limit: int, page: int, as_json: bool) -> None:
    """Completed tasks, newest first."""
    result = _client(ctx).history(q=search, model=model, page_size=limit, page=page)
    if as_json:
        out.print_json(data=result)
        return
    table = Table(title=f"{result['total']} task(s)", title_justify="left")
    # The id whole on one line (it is what `studio get` takes); the prompt folds into what is left.
    table.add_column("task", no_wrap=True, min_width=32)
    for column in ("created", "model", "images", "cost CNY"):
        table.add_column(column, overflow="ellipsis")
    table.add_column("prompt", overflow="fold", ratio=1)
    for item in result["items"]:
        cost = item.get("cost_cny")
        table.add_row(
            item["task_id"], str(item["created_at"])[:19].replace("T", " "), item["model"], str(len(item["outputs"])),
            f"{cost:g}" if isinstance(cost, (int, float)) else "-", item["prompt"][:80],
        )
    out.print(table)


@cli.command()
@click.argument("task_id")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also save its images here.")
@click.option("--json", "as_json", is_flag=True, help="The studio's JSON as is.")
@click.pass_context
def get(ctx: click.Context, task_id: str, out_dir: Path | None, as_json: bool) -> None:
    """One task: its state, and its images saved with --out."""
    client = _client(ctx)
    task = client.task(task_id)
    if as_json:
        out.print_json(data=task)
    else:
        out.print(f"{task['task_id']}  {task['status']}  {task['model']}  {len(task['outputs'])} image(s)")
        out.print(f"prompt: {task['prompt']}")
        if task.get("error"):
            out.print(f"error: {_describe_failure(task)}")
    if out_dir is not None:
        for path in save_images(client, task, out_dir):
            click.echo(str(path))
    if task["status"] in ("failed", "cancelled"):
        sys.exit(TaskFailed.exit_code)


@cli.command()
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day (default: 30 days ago).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day (default: today).")
@click.option("--by", "group_by", type=click.Choice(["day", "model"]), default="day", show_default=True)
@click.pass_context
def usage(ctx: click.Context, start: datetime | None, end: datetime | None, group_by: str) -> None:
    """Spend: today, this month, the budgets, and per day or model over a range."""
    client = _client(ctx)
    summary = client.usage_summary()
    last = end.date() if end else date.today()
    first = start.date() if start else last - timedelta(days=29)
    if first > last:
        raise click.BadParameter("--from is after --to")
    report = client.usage(first.isoformat(), last.isoformat(), group_by)
    out.print(f"today {summary.get('today_cny', 0):g} CNY, this month {summary.get('month_cny', 0):g} CNY")
    for budget in summary.get("budgets") or []:
        out.print(f"budget {budget.get('name')}: {budget.get('spent_cny', 0):g} of {budget.get('cap_cny')} CNY")
    table = Table(title=f"{first} .. {last} by {group_by}", title_justify="left")
    for column in (group_by, "images", "cost CNY"):
        table.add_column(column)
    for row in report.get("rows") or []:
        table.add_row(str(row["key"]), str(row["images"]), f"{row['cost_cny']:g}")
    out.print(table)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err.print("interrupted (a queued task keeps running in the studio)")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CliError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted (a queued task keeps running in the studio)")
        sys.exit(130)
