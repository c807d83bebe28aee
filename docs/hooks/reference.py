"""MkDocs hook: the CLI and HTTP reference pages, generated at build time.

The CLI page walks the Typer app's command tree; the HTTP page reads the OpenAPI document of a
Catchment app built on a temporary root. Neither list is written by hand, so the reference
cannot drift from the code.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CLI_PAGE = "reference/cli.md"
HTTP_PAGE = "reference/http.md"

_METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


def on_config(config: Any) -> Any:
    # Snippets (deploy/README.md, included in a page) resolve from the repository's root, not
    # from wherever mkdocs was started.
    root = str(Path(config.config_file_path).parent)
    config.mdx_configs.setdefault("pymdownx.snippets", {})["base_path"] = [root]
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, content in ((CLI_PAGE, cli_reference()), (HTTP_PAGE, http_reference())):
        files.append(File.generated(config, uri, content=content))
    return files


# == shared ========================================================================================


def _cell(text: object) -> str:
    """``text`` fit for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _plain(text: str) -> str:
    """``text`` (help or a description) as Markdown that shows it as written: its code spans
    kept, everything else escaped so that ``[x]``, ``*`` or ``_`` never turn into markup."""
    parts = re.split(r"(`+[^`]*`+)", text)
    return "".join(part if part.startswith("`") else _escape(part) for part in parts)


def _escape(text: str) -> str:
    # Markdown has no backslash escape for "<": an entity stands in for it.
    return re.sub(r"([\\*_\[\]>])", r"\\\1", text).replace("<", "&lt;")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


# == the CLI =======================================================================================


def cli_commands() -> Iterator[tuple[str, Any, Any]]:
    """Every visible command of the ``duckstring`` app, depth first: its name path
    (``duckstring trigger window add``), the command and its context."""
    import typer

    from duckstring.cli import app

    root = typer.main.get_command(app)

    def walk(path: str, command: Any, ctx: Any) -> Iterator[tuple[str, Any, Any]]:
        yield path, command, ctx
        for name in command.list_commands(ctx) if hasattr(command, "commands") else ():
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(
                    f"{path} {name}", sub, typer.Context(sub, info_name=name, parent=ctx)
                )

    yield from walk("duckstring", root, typer.Context(root, info_name="duckstring"))


def cli_reference() -> str:
    lines = [
        "# CLI reference",
        "",
        "Generated from the `duckstring` command tree when these pages are built; "
        "`duckstring COMMAND --help` prints the same. `ds` is the same program.",
        "",
    ]
    for path, command, ctx in cli_commands():
        depth = min(path.count(" ") + 2, 5)
        lines += ["#" * depth + f" `{path}`", ""]
        lines += ["```text", command.get_usage(ctx), "```", ""]
        # Click's convention: text after a form feed is for the code reader, not for --help.
        help_text = (command.help or "").split("\f")[0].strip()
        if help_text:
            lines += [_plain(help_text), ""]
        for kind, title in (("argument", "Arguments"), ("option", "Options")):
            rows = []
            for param in command.params:
                if param.param_type_name != kind or getattr(param, "hidden", False):
                    continue
                record = param.get_help_record(ctx)
                if record is not None:
                    rows.append((f"`{record[0]}`", _plain(record[1])))
            if rows:
                lines += [f"**{title}**", "", *_table((kind, "help"), rows)]
        subcommands = command.list_commands(ctx) if hasattr(command, "commands") else []
        if subcommands:
            items = [f"`{name}`" for name in subcommands]
            lines += ["**Commands**: " + ", ".join(items), ""]
    return "\n".join(lines)


# == the HTTP API ==================================================================================


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of a Catchment app on a temporary root (never started)."""
    from duckstring.catchment.app import create_app
    from duckstring.catchment.service import CatchmentConfig

    with tempfile.TemporaryDirectory() as scratch:
        return create_app(CatchmentConfig(root=Path(scratch) / "root")).openapi()


def http_routes(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(METHOD, path, operation)`` for every operation of ``document``."""
    for path, item in document["paths"].items():
        for method in _METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def _schema_link(name: str) -> str:
    return f"[`{name}`](#{_anchor('schema ' + name)})"


def _type(schema: dict[str, Any]) -> str:
    """A short, readable type for ``schema``, with links to the named models."""
    if "$ref" in schema:
        return _schema_link(schema["$ref"].rsplit("/", 1)[-1])
    for combiner in ("anyOf", "oneOf", "allOf"):
        if combiner in schema:
            parts = [_type(part) for part in schema[combiner] if part.get("type") != "null"]
            nullable = any(part.get("type") == "null" for part in schema[combiner])
            text = " or ".join(parts) or "any"
            return f"{text} or null" if nullable else text
    kind = schema.get("type")
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    if kind == "array":
        return "array of " + _type(schema.get("items", {}))
    if kind == "string" and schema.get("format") == "binary":
        return "file"
    if kind == "object" and "properties" not in schema:
        return "object"
    return str(kind or "any")


def _constraints(schema: dict[str, Any]) -> str:
    notes = []
    for key, word in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in schema:
            notes.append(f"{word} {schema[key]}")
    if "default" in schema:
        notes.append(f"default `{schema['default']}`")
    return "; ".join(notes)


def _describe(schema: dict[str, Any], description: str | None = None) -> str:
    parts = [_plain(description or schema.get("description") or ""), _constraints(schema)]
    return "; ".join(part for part in parts if part)


def _properties(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    rows = [
        (f"`{name}`", _type(field), "yes" if name in required else "", _describe(field))
        for name, field in schema.get("properties", {}).items()
    ]
    return _table(("field", "type", "required", "meaning"), rows)


def _body(schema: dict[str, Any]) -> list[str]:
    if "$ref" in schema or "properties" not in schema:
        return [_type(schema), ""]
    return _properties(schema)


def _operation(method: str, path: str, op: dict[str, Any]) -> list[str]:
    lines = [f"### `{method} {path}`", ""]
    summary = op.get("summary")
    if summary:
        lines += [f"**{_plain(summary)}**", ""]
    if op.get("description"):
        lines += [_plain(op["description"].strip()), ""]
    if not op.get("security"):
        lines += ["Needs no key.", ""]
    parameters = op.get("parameters", [])
    if parameters:
        rows = [
            (
                f"`{p['name']}`",
                p["in"],
                _type(p.get("schema", {})),
                "yes" if p.get("required") else "",
                _describe(p.get("schema", {}), p.get("description")),
            )
            for p in parameters
        ]
        lines += ["**Parameters**", ""]
        lines += _table(("name", "in", "type", "required", "meaning"), rows)
    body = op.get("requestBody")
    if body:
        for media, content in body.get("content", {}).items():
            lines += [f"**Body** (`{media}`)", "", *_body(content.get("schema", {}))]
    rows = []
    for code, response in op.get("responses", {}).items():
        kinds = [
            f"`{media}`: {_type(content.get('schema', {}))}"
            for media, content in response.get("content", {}).items()
        ]
        headers = [f"header `{name}`" for name in response.get("headers", {})]
        meaning = _plain(response.get("description", ""))
        rows.append((f"`{code}`", meaning, "; ".join(kinds + headers)))
    lines += ["**Responses**", "", *_table(("status", "meaning", "content"), rows)]
    return lines


def _section(op: dict[str, Any], path: str) -> str:
    tags = op.get("tags")
    if tags:
        return str(tags[0])
    # Untagged routes are grouped by what follows /api/: ponds, runs, status.
    return path.removeprefix("/api/").split("/", 1)[0]


def http_reference() -> str:
    document = openapi_document()
    info = document["info"]
    lines = [
        "# HTTP reference",
        "",
        f"Generated from the OpenAPI document of {info['title']} {info['version']} when these "
        "pages are built. A running Catchment serves the same document at `/openapi.json` and "
        "an interactive view of it at `/docs`.",
        "",
    ]
    for scheme in document.get("components", {}).get("securitySchemes", {}).values():
        if scheme.get("description"):
            lines += [f"**Authentication**: {_plain(scheme['description'])}", ""]
    sections: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for method, path, op in http_routes(document):
        sections.setdefault(_section(op, path), []).append((method, path, op))
    for section, operations in sections.items():
        lines += [f"## {section[:1].upper()}{section[1:]}", ""]
        for method, path, op in operations:
            lines += _operation(method, path, op)
    lines += ["## Models", ""]
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        lines += [f"### {name} {{ #{_anchor('schema ' + name)} }}", ""]
        if schema.get("description"):
            lines += [_plain(schema["description"].strip()), ""]
        if "properties" in schema:
            lines += _properties(schema)
        else:
            lines += [_type(schema), ""]
    return "\n".join(lines)
