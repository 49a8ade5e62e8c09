"""membench: one harness to compare long-term memory systems for LLM agents, with error bars.

Import cost matters (``membench --help`` must stay fast), so this module imports nothing heavy.
"""

__version__ = "0.1.0"
