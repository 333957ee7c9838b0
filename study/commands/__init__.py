"""The front doors of ``study``'s sub-commands that are not a whole study: ``trial``, ``ui``,
``dashboard``, ``--set``; and the one way their servers are run (``serving``).

Each is thin: it parses what the user typed, checks it, and calls the layer that does the work.
"""

from study.commands.overrides import parse_sets, read_recipe, resolve_config
from study.commands.serving import check_port, run_server_process

__all__ = ["check_port", "parse_sets", "read_recipe", "resolve_config", "run_server_process"]
