import math
import sys

radii = [float(token) for token in sys.stdin.read().split()[1:]]
sys.stdout.write("".join(f"{math.pi * r * r:.9f}\n" for r in radii))
