"""Executes one notebook with nbclient (Debian's python3-nbclient) for `saelab notebook run`.

usage: execute.py IN.ipynb OUT.ipynb CWD KERNEL_NAME TIMEOUT_SECONDS
Exit codes: 0 executed (cell errors are kept in the output, the caller checks them), 3 the kernel failed to start
(the caller retries: rapaio-jupyter-kernel 3.0.1 has a start-up race), 1 anything else.
"""
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

src, dst, cwd, kernel, timeout = sys.argv[1:6]
nb = nbformat.read(src, as_version=4)
client = NotebookClient(nb, kernel_name=kernel, timeout=int(timeout), allow_errors=True,
                        startup_timeout=30, resources={"metadata": {"path": cwd}})
try:
    client.execute()
except DeadKernelError as e:
    print("kernel died: %s" % e, file=sys.stderr)
    sys.exit(3)
except RuntimeError as e:
    # "Kernel didn't respond in N seconds" / "Kernel died before replying to kernel_info"
    print("kernel start failed: %s" % e, file=sys.stderr)
    sys.exit(3)
nbformat.write(nb, dst)
