"""One trial and the study it belongs to: the search space, the objective, constraints,
the typed records stored on trials and studies, the worker loop, the study's data."""
