"""The one exception type the data layer raises on bad input."""


class DataError(ValueError):
    """Bad input to the data layer; the message names the file and the problem."""
