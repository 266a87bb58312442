"""Does an SDPO step move the model toward passing programs? (`python -m benchmarks.steps`)"""
