"""Untrusted execution: problem formats, judging, and hardened backends.

This package never imports `service`.
"""

from sandbox.backends import Backend, SandboxError, make_backend
from sandbox.limits import Limits
from sandbox.problem import Problem
from sandbox.results import CaseResult, SuiteResult, Verdict
from sandbox.runner import Sandbox

__all__ = [
    "Backend",
    "CaseResult",
    "Limits",
    "Problem",
    "Sandbox",
    "SandboxError",
    "SuiteResult",
    "Verdict",
    "make_backend",
]
