"""The JavaScript memory of ``memory.js``, as membench sees it: a name, capabilities and a command.

membench run --task halumem --plugin examples/node-worker/plugin.py:NodeKeywords --system node-keywords
"""

from __future__ import annotations

from pathlib import Path

from membench.systems.base import Capabilities
from membench.systems.worker.client import WorkerSystem


class NodeKeywords(WorkerSystem):
    name = "node-keywords"
    capabilities = Capabilities(session_memories=True)
    command = ("node", str(Path(__file__).with_name("memory.js")))
    needs = "Node.js (node on PATH)"
