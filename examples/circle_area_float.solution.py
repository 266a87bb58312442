import math
import sys

for token in sys.stdin.read().split()[1:]:
    print(f"{math.pi * float(token) ** 2:.9f}")
