from itertools import groupby


def compress(s):
    return "".join(c + (str(n) if (n := len(list(run))) > 1 else "") for c, run in groupby(s))
