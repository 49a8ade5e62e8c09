"""``python -m membench.systems.worker``: serve one memory system over stdin/stdout (see ``serve``)."""

from membench.systems.worker.serve import main

raise SystemExit(main())
