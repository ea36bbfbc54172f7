"""Typed errors a user can cause. The CLI turns each into a one-line message and exit code 2;
the app shows it with st.error. Programming errors stay ordinary exceptions."""


class RecsysError(Exception):
    """Base class of every error caused by input (data, arguments, artifacts)."""


class DataError(RecsysError, ValueError):
    """A data file or value is unusable. The message names the file, line and column when known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: str | None = None):
        # ``line`` is the 1-based line in the file, header included, as an editor shows it.
        self.file, self.line, self.column = file, line, column
        where = [part for part in (
            str(file) if file is not None else None,
            f"line {line}" if line is not None else None,
            f"column '{column}'" if column is not None else None,
        ) if part]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ArtifactError(RecsysError):
    """A stored artifact is missing, corrupt, or was built by another version or config."""


class NotFittedError(RecsysError, AttributeError):
    """A model was used before ``fit`` (or ``load``)."""


class ParameterError(RecsysError, ValueError):
    """A hyper-parameter or argument is out of range (k <= 0, a negative regularisation, ...)."""


class NotApplicable(ParameterError):
    """A model cannot fit this dataset (EASE over too many items, the content model without item text).
    Raised before any training, so a build over several models skips this one and goes on."""
