"""Can the model learn from its feedback? The learnability probe as a benchmark
(`python -m benchmarks.retrospection --config smoke|full|gpu`)."""
