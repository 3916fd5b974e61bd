"""The messaging area's argument check for integers (one wording for the log,
the groups and the assignors)."""
import operator

_REQUIRED = object()


def integer(value, name, low=None, default=_REQUIRED):
    """``value`` as an int: bool and non-integers are a TypeError, below ``low`` a
    ValueError; None gives ``default`` where one is given."""
    if value is None and default is not _REQUIRED:
        return default
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if low is not None and v < low:
        raise ValueError(f"{name} must be >= {low}, got {v}")
    return v
