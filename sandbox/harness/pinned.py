"""The harness's own names for builtins and functions a program could replace.

Bundled right after the protocol, they are bound before any other harness code runs, let alone
the program; every later harness file uses them.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import sys
from typing import Any

JsonDict = dict[str, Any]

# Bound before any program runs: a program can replace module attributes and builtins, but not
# these names of the harness's own (short of walking frames or gc, see docs/sandbox.md).
_type, _isinstance, _issubclass, _len, _list = type, isinstance, issubclass, len, list
_tuple, _dict, _set, _frozenset, _bool, _repr = tuple, dict, set, frozenset, bool, repr
_exec, _eval, _compile, _parse = exec, eval, compile, ast.parse
_write, _read, _exit, _listdir = os.write, os.read, os._exit, os.listdir
_dumps, _settrace, _setprofile = json.dumps, sys.settrace, sys.setprofile
# The builtins as they are before any program runs: sandbox-judged test code resolves `len`,
# `all`, `range`, ... here, never in the program's namespace or its (mutable) builtins module.
REAL_BUILTINS: dict[str, Any] = dict(builtins.__dict__)
_BUILTINS_MODULE_DICT = builtins.__dict__
