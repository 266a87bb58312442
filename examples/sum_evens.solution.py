def sum_evens(nums):
    return sum(n for n in nums if n % 2 == 0)
