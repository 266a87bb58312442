import sys


def main() -> None:
    data = sys.stdin.read().split()
    n, target = int(data[0]), int(data[1])
    nums = [int(x) for x in data[2 : 2 + n]]
    seen: dict[int, int] = {}
    for j, value in enumerate(nums):
        if target - value in seen:
            sys.stdout.write(f"{seen[target - value]} {j}\n")
            return
        seen[value] = j


main()
