"""The solver: strategies, the feedback the model sees, prompts and budgets (DESIGN §4)."""

from service.solver.feedback import render_feedback

__all__ = ["render_feedback"]
