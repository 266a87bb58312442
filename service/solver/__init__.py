"""The solver: strategies, the feedback the model sees, prompts and budgets
(docs/algorithm.md §5, §6)."""

from service.solver.feedback import render_feedback

__all__ = ["render_feedback"]
