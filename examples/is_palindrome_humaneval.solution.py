def is_palindrome(text: str) -> bool:
    """Return True if `text` reads the same forwards and backwards, ignoring case and
    every character that is not a letter or a digit.
    >>> is_palindrome("A man, a plan, a canal: Panama")
    True
    >>> is_palindrome("race a car")
    False
    """
    kept = [c.lower() for c in text if c.isalnum()]
    return kept == kept[::-1]
