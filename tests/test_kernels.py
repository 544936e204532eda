"""The kernel a target's notebook runs in (kit/kernels.py): IPC transport,
so a run prints no "running over TCP without encryption" warning."""
from __future__ import annotations

import os

import nbformat
import papermill
import pytest

from datadam_lib.kit.kernels import IPCKernelManager, papermill_options


@pytest.mark.skipif(os.name == "nt", reason="ZeroMQ has no IPC transport on Windows")
def test_a_notebook_runs_over_ipc_without_the_transport_warning(tmp_path, capfd):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os; print(6 * 7, sorted(f for f in os.listdir('.') if 'ipc' in f))")])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src, out = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    nbformat.write(nb, src)
    assert IPCKernelManager().transport == "ipc"
    papermill.execute_notebook(str(src), str(out), kernel_name="python3", progress_bar=False, cwd=str(tmp_path),
                               **papermill_options())
    # 42, and no socket in the working directory, where another run's kernel would take the same names
    assert nbformat.read(out, as_version=4).cells[0].outputs[0]["text"] == "42 []\n"
    err = capfd.readouterr().err
    assert "without encryption" not in err and "TCP" not in err


@pytest.mark.skipif(os.name == "nt", reason="ZeroMQ has no IPC transport on Windows")
def test_each_kernel_has_sockets_of_its_own():
    from jupyter_core.paths import jupyter_runtime_dir
    a, b = IPCKernelManager().ip, IPCKernelManager().ip
    assert a != b and os.path.dirname(a) == os.path.dirname(b) == jupyter_runtime_dir()
