"""`python -m service.cli` is the `retrospect` command."""

from service.cli import app

app(prog_name="retrospect")
