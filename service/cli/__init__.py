"""The `retrospect` command line (typer and rich).

Local: `models`, `prepare-model`, `solve`, `probe`. Service: `serve` (API and worker in one
process on embedded defaults), `api`, `worker`, `migrate`, `keys create`, `keys list`,
`keys revoke`. Client: `submit --follow`.
"""

from __future__ import annotations

import typer

from service.cli import client, local, probe, server

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
for group in (local.app, probe.app, server.app, client.app):
    app.registered_commands.extend(group.registered_commands)
    app.registered_groups.extend(group.registered_groups)


@app.callback()
def _group() -> None:
    """retrospect: a test-time solver service."""
