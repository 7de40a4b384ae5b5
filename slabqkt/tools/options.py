"""Small helpers for command-line tokens."""


def is_number(text):
    """True when ``text`` parses as a float (e.g. '-0.5', '1e-8', 'inf')."""
    try:
        float(text)
    except ValueError:
        return False
    return True
