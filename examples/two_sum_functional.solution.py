class Solution:
    def twoSum(self, nums: list[int], target: int) -> list[int]:
        seen: dict[int, int] = {}
        for j, value in enumerate(nums):
            if target - value in seen:
                return [seen[target - value], j]
            seen[value] = j
        return []
