"""The front doors of ``study``'s sub-commands that are not a whole study: ``trial``, ``ui``, ``--set``.

Each is thin: it parses what the user typed, checks it, and calls the layer that does the work.
"""
