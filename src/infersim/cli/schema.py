"""`infersim schema`: print the JSON Schema of scenario files."""

from __future__ import annotations

import typer

from infersim.cli.common import OutputOption, atomic_write, command, info
from infersim.scenario.schema import scenario_json_schema_text


@command
def schema(ctx: typer.Context, output: OutputOption = None) -> None:
    """Print the JSON Schema of scenario files (for editors: yaml-language-server)."""
    text = scenario_json_schema_text()
    if output is None:
        typer.echo(text, nl=False)
    else:
        atomic_write(output, text)
        info(ctx, f"wrote {output}")
