"""The messaging area's errors."""

__all__ = ["NoOffset", "OffsetOutOfRange"]


class OffsetOutOfRange(ValueError):
    """A fetch or seek below the log start offset or past the log end offset."""


class NoOffset(LookupError):
    """A group has no committed offset for a partition and auto_offset_reset is 'none'."""
