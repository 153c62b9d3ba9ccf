"""mkdocs hook: the reference pages written from the code, so they cannot drift from it.

``<!-- reference: params -->`` becomes every params.yaml key with its default and description, read from the
pydantic schema (ocrops.config.Params); ``<!-- reference: cli -->`` becomes every ``ocrops`` command with its
usage, options and help, read from the typer app."""

from __future__ import annotations

import json

from pydantic import BaseModel


def _value(value: object) -> str:
    if isinstance(value, BaseModel):
        return ""
    text = json.dumps(value.as_posix() if hasattr(value, "as_posix") else value, ensure_ascii=False, default=str)
    return f"`{text}`"


def _section(model: type[BaseModel], prefix: str, depth: int) -> list[str]:
    rows, nested = [], []
    for name, field in model.model_fields.items():
        key = field.alias or name
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested.append((f"{prefix}{key}", annotation))
            continue
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        default = _value(field.get_default(call_default_factory=True))
        rows.append(f"| `{prefix}{key}` | {default} | {description} |")
    lines = []
    if rows:
        doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        lines += [f"{'#' * depth} `{prefix.rstrip('.')}`", "", doc, "", "| key | default | what it does |",
                  "| --- | --- | --- |", *rows, ""]
    for key, sub in nested:
        lines += _section(sub, key + ".", depth if rows else depth)
    return lines


def params_reference() -> str:
    from ocrops.config import Params

    lines = []
    for name, field in Params.model_fields.items():
        key = field.alias or name
        lines += _section(field.annotation, key + ".", 2)
    return "\n".join(lines)


def cli_reference() -> str:
    import typer

    from ocrops.cli import app

    root = typer.main.get_command(app)
    lines: list[str] = []

    context_type = type(click_context := typer.main.get_command(app).make_context("ocrops", [], resilient_parsing=True))

    def walk(command, path: list[str]) -> None:  # typer's own click: groups by what they have
        if hasattr(command, "list_commands"):
            for name in command.list_commands(click_context):
                walk(command.get_command(click_context, name), [*path, name])
            return
        context = context_type(command, info_name=" ".join(path))
        lines.extend([f"## `{' '.join(path)}`", "", (command.help or "").strip(), "", "```",
                      command.get_usage(context).replace("Usage: ", ""), "```", ""])
        options = [p for p in command.get_params(context) if p.name != "help"]
        if options:
            lines.extend(["| argument / option | default | help |", "| --- | --- | --- |"])
            for param in options:
                names = ", ".join(f"`{n}`" for n in (param.opts if param.param_type_name == "option" else [param.name]))
                default = "" if param.default in (None, (), "") or callable(param.default) else f"`{param.default}`"
                text = (getattr(param, "help", "") or "").replace("|", "\\|").replace("\n", " ")
                choices = getattr(getattr(param, "type", None), "choices", None)
                if choices:
                    text = (text + " " if text else "") + "one of " + ", ".join(f"`{c}`" for c in choices)
                lines.append(f"| {names} | {default} | {text} |")
            lines.append("")

    walk(root, ["ocrops"])
    return "\n".join(lines)


GENERATED = {"<!-- reference: params -->": params_reference, "<!-- reference: cli -->": cli_reference}


def on_page_markdown(markdown: str, page, config, files) -> str:
    for marker, render in GENERATED.items():
        if marker in markdown:
            markdown = markdown.replace(marker, render())
    return markdown
