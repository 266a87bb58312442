"""`python -m benchmarks.gpu_smoke`: one real round of the worker's engine on the configured
device, with the memory plan's prediction next to what was measured.

It loads the model (or random weights in a named shape, e.g. `--shape qwen3-8b`, where the
weights cannot travel), prints the memory plan, samples a round of attempts, judges them in
the sandbox, takes one SDPO step, publishes the adapter and samples a second round with it.
Its JSON holds the plan, the learner step's predicted and measured peak, seconds per phase
and the publish latency. vLLM samples where it imports on CUDA; the transformers sampler
otherwise.
"""
