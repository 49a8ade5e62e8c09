"""HaluMem's judges, in one place for the task to build: rule (exact), lexical and LLM (approximate).

Each judge lives in its own module (``judge_rule``, ``judge_lexical``, ``judge_llm``) over the shared
base in ``judge_base``; this module only gathers them, so ``task.py`` imports one name per judge.
"""

from __future__ import annotations

from membench_tasks.halumem.judge_base import HaluMemJudge
from membench_tasks.halumem.judge_lexical import LexicalJudge
from membench_tasks.halumem.judge_llm import LLMJudge
from membench_tasks.halumem.judge_rule import MISSING_KEYS, RuleJudge

__all__ = ["MISSING_KEYS", "HaluMemJudge", "LLMJudge", "LexicalJudge", "RuleJudge"]
