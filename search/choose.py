"""Which study a command (refit, report) means: the one named, else the only one stored."""

from __future__ import annotations

import optuna

from search.errors import StorageError
from search.storage import mask_url, open_storage, retry_storage

__all__ = ["DEFAULT_STUDY", "load_existing_study"]

DEFAULT_STUDY = "celeba"


def load_existing_study(storage_url: str, name: str | None) -> optuna.Study:
    """The study `name` in the storage; with no name, the only study there, else "celeba".

    Raises StorageError (one line, password masked) when there is no such study.
    """
    storage = open_storage(storage_url)
    names = retry_storage(lambda: optuna.get_all_study_names(storage), "list the studies")
    where = mask_url(storage_url)
    if not names:
        raise StorageError(f"no study in {where}: run python -m search.run first")
    if name is None:
        if len(names) == 1:
            name = names[0]
        elif DEFAULT_STUDY in names:
            name = DEFAULT_STUDY
        else:
            raise StorageError(f"{where} holds several studies; pick one with --study: "
                               f"{', '.join(sorted(names))}")  # fmt: skip
    if name not in names:
        raise StorageError(f"no study {name!r} in {where} (it holds {', '.join(sorted(names))})")
    return retry_storage(
        lambda: optuna.load_study(study_name=name, storage=storage), "load the study"
    )
