"""The Jupyter kernel a target's notebook runs in (``runner.py``, papermill).

jupyter_client connects to a kernel over TCP on localhost by default, and
ipykernel (7.x) then logs at start-up "Kernel is running over TCP without
encryption ... susceptible to eavesdropping" to the terminal, which a
newcomer reads as a problem. The kit's kernels talk over IPC instead: Unix
domain sockets beside the kernel's connection file in Jupyter's runtime
directory (private to the user), so no port is opened and there is nothing to
warn about. Windows has no IPC transport in ZeroMQ: there the default (TCP)
is kept.
"""
from __future__ import annotations

import os

from jupyter_client import AsyncKernelManager
from traitlets import default


class IPCKernelManager(AsyncKernelManager):
    """jupyter_client's kernel manager with the IPC transport (TCP on Windows)."""

    @default("transport")
    def _transport_default(self) -> str:
        return "tcp" if os.name == "nt" else "ipc"


def papermill_options() -> dict:
    """Keyword arguments for ``papermill.execute_notebook`` (passed on to
    nbclient): the kernel manager above."""
    return {"kernel_manager_class": IPCKernelManager}
