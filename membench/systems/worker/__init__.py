"""Memory systems in another process: the protocol (``protocol``), the serving side that runs in the
system's own environment (``serve``, run as ``python -m membench.systems.worker``), and the parent's
side that the runner drives like any adapter (``client.WorkerSystem``)."""
