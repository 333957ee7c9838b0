"""The study file: its model (frozen dataclasses), parsing and value checks, the ``[search]``
parameters and their suggestion, translation into ``TrialConfig``, durations, and the book's seed
recipes. ``default_space.toml`` beside this file is the built-in demo study."""
