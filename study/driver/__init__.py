"""A whole study: ``launch`` and ``resume``, checks before anything expensive, the search and
confirmation phases as Tune runs, the Ray cluster, and the study folder's ``study.json``."""
