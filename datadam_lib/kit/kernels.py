"""The Jupyter kernel a target's notebook runs in (``runner.py``, papermill).

jupyter_client connects to a kernel over TCP on localhost by default, and
ipykernel (7.x) then logs at start-up "Kernel is running over TCP without
encryption ... susceptible to eavesdropping" to the terminal, which a
newcomer reads as a problem. The kit's kernels talk over IPC instead: Unix
domain sockets beside the kernel's connection file in Jupyter's runtime
directory (private to the user), so no port is opened and there is nothing to
warn about. Windows has no IPC transport in ZeroMQ: there the default (TCP)
is kept.

Each kernel's sockets get their own name: jupyter_client names them
``kernel-ipc-1`` ... ``-5`` *in the working directory* when, as under
papermill, the name is chosen before the connection file's, so two targets
started at once from the kit's ``notebooks/`` bound the same sockets and one
died ("Kernel died before replying to kernel_info", or the other's "Invalid
Signature"; seen with two renders started in the same second).
"""
from __future__ import annotations

import os
import uuid

from jupyter_client import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import default


class IPCKernelManager(AsyncKernelManager):
    """jupyter_client's kernel manager with the IPC transport (TCP on Windows),
    its sockets under a name of its own in Jupyter's runtime directory."""

    @default("transport")
    def _transport_default(self) -> str:
        return "tcp" if os.name == "nt" else "ipc"

    @default("ip")
    def _ip_default(self) -> str:
        if self.transport != "ipc":
            return super()._ip_default()
        runtime = jupyter_runtime_dir()
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        return os.path.join(runtime, f"kernel-{uuid.uuid4().hex[:12]}-ipc")   # + "-1" ... "-5": one socket each


def papermill_options() -> dict:
    """Keyword arguments for ``papermill.execute_notebook`` (passed on to
    nbclient): the kernel manager above."""
    return {"kernel_manager_class": IPCKernelManager}
