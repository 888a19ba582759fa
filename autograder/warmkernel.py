r"""Warm kernels: IPython kernels forked from a process that has already imported
ipykernel, numpy, matplotlib, ipywidgets and the lesson's modules.

Starting a fresh kernel for every notebook costs about a second of CPU here,
most of it imports that are identical for every student. Grading many
notebooks, we import once in a *fork server* and fork a kernel per notebook.
Each notebook still runs in its own new process (a copy-on-write copy of the
server: nothing one student's code does reaches another's kernel), speaking
the ordinary Jupyter protocol to nbclient/nbgrader's ``Execute``: the grades
are the ones stock nbgrader gives.

The pieces:

- ``serve``: the fork server, a single-threaded process listening on a Unix
  socket. A request carries a kernel's argv (``-f connection_file …``), the
  working directory, the environment and the launcher's stdio; the server
  forks, the child becomes the kernel (``IPKernelApp``), and when the child
  exits the server sends its exit status back.
- ``launch``: the tiny process jupyter_client actually starts (so it can
  poll, signal and kill it as usual). It asks the server for a kernel,
  forwards SIGINT/SIGTERM to it, and exits with the kernel's exit status. If
  the launcher is killed, the kernel notices (a pidfd watch) and exits.
- :class:`WarmKernelManager`: an ``AsyncKernelManager`` whose python3 command
  goes through ``launch`` when ``AUTODIFF_WARM_KERNEL`` names a server socket,
  and is the stock command otherwise.

Linux only (fork + pidfd); elsewhere :func:`available` is False and grading
uses ordinary kernels.
"""
import json
import os
import selectors
import signal
import socket
import struct
import sys

ENV_VAR = "AUTODIFF_WARM_KERNEL"

#: Always imported by the server before forking.
BASE_PRELOAD = (
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger", "IPython",
    "IPython.core.interactiveshell", "comm", "numpy", "matplotlib", "matplotlib.pyplot",
    "matplotlib_inline.backend_inline", "ipywidgets", "autograder.checks",
)


def available():
    return sys.platform.startswith("linux") and hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")


# --- wire format: 4-byte length + JSON ---------------------------------------

def _send(sock, obj, fds=()):
    data = json.dumps(obj).encode()
    payload = struct.pack("!I", len(data)) + data
    if fds:
        socket.send_fds(sock, [payload], list(fds))
    else:
        sock.sendall(payload)


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _recv(sock, with_fds=0):
    fds = []
    if with_fds:
        head, fds, _flags, _addr = socket.recv_fds(sock, 4, with_fds)
        if len(head) < 4:
            head += _recv_exact(sock, 4 - len(head))
    else:
        head = _recv_exact(sock, 4)
    (n,) = struct.unpack("!I", head)
    return json.loads(_recv_exact(sock, n).decode()), fds


# --- the fork server ----------------------------------------------------------

def serve(socket_path, preload=()):
    """Import everything, then fork one kernel per request until terminated."""
    # Like ipykernel_launcher: the server's working directory is not a kernel's.
    if sys.path and (sys.path[0] in ("", os.getcwd())):
        del sys.path[0]
    for name in (*BASE_PRELOAD, *preload):
        try:
            __import__(name)
        except Exception as err:  # a lesson module that fails here fails in the notebook too
            print(f"warmkernel: could not preload {name}: {err}", file=sys.stderr)
    base_path = list(sys.path)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))

    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(wake_r, selectors.EVENT_READ, "signal")
    children = {}  # pid -> connection to its launcher
    print("warmkernel: ready", flush=True)
    try:
        while not stop:
            for key, _ in sel.select(timeout=1.0):
                if key.data == "accept":
                    conn, _ = listener.accept()
                    try:
                        request, fds = _recv(conn, with_fds=3)
                    except (EOFError, OSError, ValueError):
                        conn.close()
                        continue
                    pid = os.fork()
                    if pid == 0:
                        try:
                            sel.close()
                            listener.close()
                            for other in children.values():
                                other.close()
                            _become_kernel(request, fds, conn, base_path, wake_r, wake_w)
                        finally:
                            os._exit(1)
                    for fd in fds:
                        os.close(fd)
                    children[pid] = conn
                    try:
                        _send(conn, {"pid": pid})
                    except OSError:
                        pass
                else:
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
            _reap(children)
    finally:
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap(children, block=True)
        listener.close()
        try:
            os.unlink(socket_path)
        except FileNotFoundError:
            pass


def _reap(children, block=False):
    while children:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is not None:
            try:
                _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
            except OSError:
                pass
            conn.close()


def _become_kernel(request, fds, conn, base_path, wake_r, wake_w):
    """In the forked child: turn into a fresh IPython kernel."""
    import threading

    signal.set_wakeup_fd(-1)
    os.close(wake_r)
    os.close(wake_w)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setsid()
    for target, fd in zip((0, 1, 2), fds):
        os.dup2(fd, target)
        os.close(fd)
    conn.close()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    extra = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p and p not in base_path]
    sys.path[:] = extra + base_path
    if "numpy" in sys.modules:  # a fresh process would draw a fresh seed
        sys.modules["numpy"].random.seed()

    # Die with the launcher (jupyter_client kills the launcher, not us).
    launcher = request["launcher_pid"]
    try:
        pidfd = os.pidfd_open(launcher)
    except ProcessLookupError:
        os._exit(1)

    def watch():
        import select
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.poll()
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="warmkernel-watch").start()

    # What a launched kernel reads from its environment when ipykernel is imported
    # (the server imported it before this environment existed).
    argv = list(request["argv"])
    if os.environ.get("JPY_PARENT_PID"):
        argv.append(f"--IPKernelApp.parent_handle={int(os.environ['JPY_PARENT_PID'])}")
    sys.argv = ["ipykernel_launcher", *argv]
    from ipykernel import kernelapp
    code = 0
    try:
        kernelapp.IPKernelApp.launch_instance(argv=argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
    os._exit(code)


# --- the launcher jupyter_client starts -----------------------------------------

def launch(socket_path, argv):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path)
    _send(sock, {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "launcher_pid": os.getpid()},
          fds=(0, 1, 2))
    reply, _ = _recv(sock)
    kernel = reply["pid"]

    def forward(signum, _frame):
        try:
            os.kill(kernel, signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, forward)
    # If whoever started us dies (a grading worker killed for overrunning its
    # deadline), take the kernel down with us.
    try:
        parent = os.pidfd_open(os.getppid())
    except (ProcessLookupError, OSError):
        parent = None
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "server")
    if parent is not None:
        sel.register(parent, selectors.EVENT_READ, "parent")
    while True:
        events = sel.select()
        if any(key.data == "parent" for key, _ in events):
            forward(signal.SIGKILL, None)
            return 1
        try:
            reply, _ = _recv(sock)
        except EOFError:  # the server went away: so did the kernel
            return 1
        if "exit" in reply:
            code = reply["exit"]
            return code if code >= 0 else 128 - code


# --- the kernel manager ----------------------------------------------------------
# Defined lazily: the launcher process must start fast, without jupyter_client.

def __getattr__(name):
    if name == "WarmKernelManager":
        from jupyter_client.manager import AsyncKernelManager

        class WarmKernelManager(AsyncKernelManager):
            """Start python kernels through the fork server named by ``$AUTODIFF_WARM_KERNEL``."""

            def format_kernel_cmd(self, extra_arguments=None):
                cmd = super().format_kernel_cmd(extra_arguments)
                server = os.environ.get(ENV_VAR)
                if not server or not os.path.exists(server):
                    return cmd
                for i, arg in enumerate(cmd[:-1]):
                    if arg == "-m" and cmd[i + 1] in ("ipykernel_launcher", "ipykernel"):
                        return [sys.executable, "-m", "autograder.warmkernel", "launch", server, "--",
                                *cmd[i + 2:]]
                return cmd

        WarmKernelManager.__module__ = __name__
        globals()["WarmKernelManager"] = WarmKernelManager
        return WarmKernelManager
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "serve":
        serve(argv[1], argv[2:])
        return 0
    if argv and argv[0] == "launch":
        rest = argv[2:]
        if rest and rest[0] == "--":
            rest = rest[1:]
        return launch(argv[1], rest)
    print("usage: python -m autograder.warmkernel serve SOCKET [MODULE...] | launch SOCKET -- KERNEL_ARGS",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
