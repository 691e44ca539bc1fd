"""The model host: one worker process that runs every torch job and keeps the models it loaded.

Importing torch (and running its kernels) holds the GIL, so in the window's process it would
freeze the window; models loaded once should also serve every later job. So torch work — scoring,
applying, explaining, ADMET, folding, training — runs in a single process that the engine owns
(:class:`ModelHost`), started on first use and kept between jobs. The window's process never
imports torch: a result that would need it (a tensor) is refused with a clear message.

A job is the usual plain function ``fn(*args, progress=..., is_cancelled=..., **kwargs)``; it must
be a module-level function (it travels as its module and name and is imported in the worker), and
its inputs and result must pickle. In the worker it gets, when its signature asks for them:
``progress`` and ``is_cancelled`` (relayed across the process boundary), ``report_partial``,
``device=`` (chosen once per worker by :func:`core.compute.choose_device`) and ``model_cache=`` (a
:class:`core.compute.ModelCache` living in the worker) — the engine's conventions. Other callables
among the inputs (an ``on_epoch`` callback) are called back in the caller's process; their return
value is lost.

Several jobs run at once, each on a thread of the worker (torch releases the GIL in its kernels):
a training run does not hold back an explanation. A worker that dies (killed for memory, a crash
in C++ code) fails its running jobs with :class:`ModelHostCrashed` within about 0.1 s; the next
job starts a new worker.

Protocol (each message one pickled tuple on a duplex pipe; one lock serialises the sends of each
side). Parent to worker: ``("run", job, module, qualname, file, inputs)`` where ``inputs`` is
the pickled ``(args, kwargs, callback count, wants partial)``; ``("cancel", job)``;
``("stop",)``. Worker to parent: ``("progress", job, fraction, message)``,
``("partial", job, pickled value)``, ``("callback", job, index, pickled args)``,
``("done", job, pickled result)``, ``("error", job, pickled exception or None, type name,
message, traceback text)``, ``("cancelled", job)`` and ``("device", 0, DeviceInfo)``. Values are
pickled apart from the envelope, so one that cannot be read back fails its own job only.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import importlib.util
import inspect
import io
import itertools
import logging
import multiprocessing
import multiprocessing.util  # its exit hook first: see _close_every_process
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.compute import DeviceInfo, ModelCache
from core.jobs import CancelCheck, JobCancelled, ProgressCallback, ThrottledProgress, no_progress

log = logging.getLogger(__name__)

POLL_S = 0.05
"""How often a waiting job checks its ``is_cancelled`` (and so how soon a cancel is sent)."""
STOP_GRACE_S = 2.0
"""How long :meth:`ModelHost.close` lets the worker end its jobs before terminating it."""
_PROTOCOL = pickle.HIGHEST_PROTOCOL
# Modules whose objects must not come back to the caller: unpickling them would import torch (and
# its GIL-holding initialisation) into the window's process.
_WORKER_ONLY = frozenset(
    {
        "torch",
        "transformers",
        "tokenizers",
        "safetensors",
        "lightning",
        "lightning_fabric",
        "pytorch_lightning",
        "chemprop",
        "admet_ai",
    }
)


class ModelHostCrashed(OSError):
    """The model host's worker process ended while jobs ran (killed for memory, a crash in C++
    code). An ``OSError``: its message is written for users. The next job starts a new one."""


class ModelHostError(RuntimeError):
    """A job cannot be sent to the model host (not a module-level function, inputs that do not
    pickle, a result that cannot come back)."""


# ----------------------------------------------------------------------------------------------
# Functions as references


def function_reference(fn: Callable[..., Any]) -> tuple[str, str, str | None]:
    """``(module, qualified name, file)`` by which the worker imports ``fn``.

    Raises
    ------
    ModelHostError
        When ``fn`` is not a module-level function (a lambda, a nested function, a bound method,
        a ``functools.partial``): the worker could not import it.
    """
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    module = getattr(fn, "__module__", None)
    if not isinstance(fn, types.FunctionType) or not name or not module or "<" in name:
        raise ModelHostError(
            f"{name or fn!r} cannot run in the model host: a torch job must be a module-level "
            "function (not a lambda, a nested function, a method or a partial), so that its "
            "worker process can import it"
        )
    owner = sys.modules.get(module)
    found: Any = owner
    for part in name.split("."):
        found = getattr(found, part, None)
    if found is not fn:
        raise ModelHostError(
            f"{module}.{name} cannot run in the model host: it is not reachable under that "
            "name in its module"
        )
    file = getattr(owner, "__file__", None)
    return module, name, str(file) if file else None


def _is_by_reference(value: Any) -> bool:
    """Whether pickle sends ``value`` (a callable) as a name the worker can import."""
    if isinstance(value, type):
        return True
    if isinstance(value, types.FunctionType):
        try:
            function_reference(value)
        except ModelHostError:
            return False
        return True
    if isinstance(value, types.BuiltinFunctionType):  # len, math.sqrt; not list.append
        owner = getattr(value, "__self__", None)
        return owner is None or isinstance(owner, types.ModuleType)
    return False


def _is_callback(value: Any) -> bool:
    """A callable input that must stay in the caller's process: a lambda or nested function, a
    bound method (``queue.put``), a partial. Called back when the worker calls it."""
    kinds = (
        types.FunctionType,
        types.MethodType,
        types.BuiltinMethodType,
        functools.partial,
    )
    return isinstance(value, kinds) and not _is_by_reference(value)


@dataclass(frozen=True, slots=True)
class _Callback:
    index: int


def _split_callbacks(
    args: tuple, kwargs: dict[str, Any]
) -> tuple[tuple, dict[str, Any], list[Callable[..., Any]]]:
    callbacks: list[Callable[..., Any]] = []

    def swap(value: Any) -> Any:
        if _is_callback(value):
            callbacks.append(value)
            return _Callback(len(callbacks) - 1)
        return value

    return (
        tuple(swap(value) for value in args),
        {key: swap(value) for key, value in kwargs.items()},
        callbacks,
    )


def _parameters(fn: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


class _CallerUnpickler(pickle.Unpickler):
    """Reads what the worker sent, refusing objects of torch and its kin unless the caller's
    process has imported them already (then nothing new is loaded)."""

    def find_class(self, module: str, name: str) -> Any:
        if module.partition(".")[0] in _WORKER_ONLY and module not in sys.modules:
            raise pickle.UnpicklingError(
                f"the job returned a {module}.{name} object, which stays in the model host: "
                "return plain values (numbers, text, numpy arrays, tables) instead"
            )
        return super().find_class(module, name)


def _caller_loads(data: bytes) -> Any:
    return _CallerUnpickler(io.BytesIO(data)).load()


# ----------------------------------------------------------------------------------------------
# The worker process


class _Worker:
    """The worker's side: a loop receiving messages, one thread per job."""

    def __init__(self, connection: Any, preference: str, reserve_cores: int = 1) -> None:
        self.connection = connection
        self.preference = preference
        self.reserve_cores = reserve_cores
        self.model_cache = ModelCache()
        self.device: DeviceInfo | None = None
        self._send_lock = threading.Lock()
        self._torch_lock = threading.Lock()
        self._jobs: dict[int, threading.Event] = {}
        self._threads: list[threading.Thread] = []

    def send(self, message: tuple) -> None:
        data = pickle.dumps(message, _PROTOCOL)
        with self._send_lock:
            self.connection.send_bytes(data)

    def serve(self) -> None:
        while True:
            try:
                message = pickle.loads(self.connection.recv_bytes())
            except (EOFError, OSError):
                break  # the caller's process ended: nobody wants our results
            kind = message[0]
            if kind == "stop":
                break
            if kind == "cancel":
                event = self._jobs.get(message[1])
                if event is not None:
                    event.set()
            elif kind == "run":
                job_id = message[1]
                event = self._jobs[job_id] = threading.Event()
                thread = threading.Thread(
                    target=self._run, args=(event, *message[1:]), name=f"job {job_id}", daemon=True
                )
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
                thread.start()
        for event in list(self._jobs.values()):
            event.set()
        # Cancelled jobs report before the process ends (the caller terminates it after its
        # grace period anyway).
        deadline = time.monotonic() + STOP_GRACE_S / 2
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def prepare_torch(self) -> DeviceInfo:
        """Threads and device, once per worker (the first torch job pays the import)."""
        with self._torch_lock:
            if self.device is None:
                from core.compute import choose_device, configure_torch_threads

                threads = configure_torch_threads(reserve_for_gui=self.reserve_cores)
                self.device = choose_device(self.preference)
                log.info(
                    "Model host device: %s (%d torch threads)", self.device.description, threads
                )
                self.send(("device", 0, self.device))
            return self.device

    def _run(
        self,
        cancel: threading.Event,
        job_id: int,
        module: str,
        qualname: str,
        file: str | None,
        inputs: bytes,
    ) -> None:
        try:
            fn = _import_function(module, qualname, file)
            args, kwargs, n_callbacks, wants_partial = pickle.loads(inputs)
            callbacks = [self._callback(job_id, index) for index in range(n_callbacks)]

            def restore(value: Any) -> Any:
                return callbacks[value.index] if isinstance(value, _Callback) else value

            args = tuple(restore(value) for value in args)
            kwargs = {key: restore(value) for key, value in kwargs.items()}
            parameters = _parameters(fn)

            def report(fraction: float, message: str = "") -> None:
                self.send(("progress", job_id, float(fraction), str(message)))

            kwargs["progress"] = ThrottledProgress(report, interval=POLL_S)
            kwargs["is_cancelled"] = cancel.is_set
            if "report_partial" in parameters and "report_partial" not in kwargs:
                kwargs["report_partial"] = (
                    (lambda value: self.send(("partial", job_id, pickle.dumps(value, _PROTOCOL))))
                    if wants_partial
                    else _ignore
                )
            if "device" in parameters or "model_cache" in parameters:
                device = self.prepare_torch()
                if "device" in parameters and "device" not in kwargs:
                    kwargs["device"] = device.device
                if "model_cache" in parameters and "model_cache" not in kwargs:
                    kwargs["model_cache"] = self.model_cache
            result = fn(*args, **kwargs)
        except JobCancelled:
            self.send(("cancelled", job_id))
        except BaseException as exc:  # SystemExit from a library too: the worker lives on
            self.send(_error_message(job_id, exc, traceback.format_exc()))
        else:
            try:
                data = pickle.dumps(result, _PROTOCOL)
            except Exception as exc:
                error = ModelHostError(
                    f"the result of {qualname} cannot be sent back from the model host: "
                    f"{type(exc).__name__}: {exc}"
                )
                self.send(_error_message(job_id, error, traceback.format_exc()))
            else:
                self.send(("done", job_id, data))
        finally:
            self._jobs.pop(job_id, None)

    def _callback(self, job_id: int, index: int) -> Callable[..., None]:
        def call(*args: Any) -> None:
            try:
                data = pickle.dumps(args, _PROTOCOL)
            except Exception:
                log.warning("A callback's arguments do not pickle; the call is dropped")
                return
            self.send(("callback", job_id, index, data))

        return call


def _ignore(value: Any) -> None:
    del value


def _error_message(job_id: int, exc: BaseException, text: str) -> tuple:
    try:
        data: bytes | None = pickle.dumps(exc, _PROTOCOL)
        pickle.loads(data)  # an exception whose __init__ takes other arguments fails here
    except Exception:
        data = None
    kind = type(exc)
    return ("error", job_id, data, f"{kind.__module__}.{kind.__qualname__}", str(exc), text)


def _import_function(module: str, qualname: str, file: str | None) -> Callable[..., Any]:
    try:
        owner = importlib.import_module(module)
    except ImportError:
        # Not importable by name here (a test module under pytest's importlib mode, a script):
        # load it from its file, under the same name so that pickled objects find it.
        if not file:
            raise
        spec = importlib.util.spec_from_file_location(module, file)
        if spec is None or spec.loader is None:
            raise
        owner = importlib.util.module_from_spec(spec)
        sys.modules[module] = owner
        spec.loader.exec_module(owner)
    found: Any = owner
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


_worker: _Worker | None = None


def _worker_main(connection: Any, preference: str, reserve_cores: int = 1) -> None:
    """The worker process: ignores Ctrl+C (the caller stops it), then serves until told to stop
    or until the caller's end of the pipe closes."""
    global _worker
    # A terminal sends SIGINT to every process of its job; only the caller should react.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from core.parallel import worker_init

    worker_init()
    _worker = _Worker(connection, preference, reserve_cores)
    _worker.serve()


def worker_device_info(*, progress=None, is_cancelled=None, device: str = "cpu") -> DeviceInfo:
    """A host job: the worker's :class:`DeviceInfo` (taking ``device`` makes it choose one)."""
    del progress, is_cancelled, device
    assert _worker is not None and _worker.device is not None, "runs in the model host only"
    return _worker.device


def describe_device(*, progress=None, is_cancelled=None, device: str = "cpu") -> str:
    """A host job: the torch device string the worker chose (``cpu``, ``cuda``, ``mps``)."""
    del progress, is_cancelled
    return device


# ----------------------------------------------------------------------------------------------
# The caller's side


class _Process:
    """One worker process as the caller sees it: its pipe, its reader thread, its open jobs."""

    def __init__(self, host: ModelHost, preference: str, reserve_cores: int = 1) -> None:
        context = multiprocessing.get_context("spawn")  # forking a process with Qt threads: no
        self.preference = preference
        self.connection, child = context.Pipe(duplex=True)
        # Not a daemon: a job may start processes of its own (data loaders); the host closes it
        # (and an exit hook closes every worker left).
        self.process = context.Process(
            target=_worker_main,
            args=(child, preference, reserve_cores),
            name="DrugDesk model host",
        )
        self.process.start()
        child.close()  # the worker's death closes its end: recv raises EOFError at once
        self.pid = self.process.pid
        self.dead = False
        self.closing = False
        self._host = weakref.ref(host)
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._inboxes: dict[int, queue.SimpleQueue] = {}
        self._reader = threading.Thread(
            target=self._read, name=f"model host reader {self.pid}", daemon=True
        )
        self._reader.start()
        _live_processes.add(self)

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._inboxes)

    def open(self, job_id: int) -> queue.SimpleQueue | None:
        """The job's inbox, or None when the process has ended."""
        with self._lock:
            if self.dead:
                return None
            inbox = self._inboxes[job_id] = queue.SimpleQueue()
            return inbox

    def release(self, job_id: int) -> None:
        with self._lock:
            self._inboxes.pop(job_id, None)

    def send(self, message: tuple) -> None:
        data = pickle.dumps(message, _PROTOCOL)
        with self._send_lock:
            self.connection.send_bytes(data)

    def _read(self) -> None:
        while True:
            try:
                data = self.connection.recv_bytes()
            except (EOFError, OSError):
                break
            try:
                message = _caller_loads(data)
            except Exception:
                log.exception("Unreadable message from the model host")
                continue
            kind, job_id = message[0], message[1]
            if kind == "device":
                host = self._host()
                if host is not None:
                    host._device_reported(message[2])
                continue
            with self._lock:
                inbox = self._inboxes.get(job_id)
            if inbox is not None:
                inbox.put(message)
        self.process.join(2)  # the pipe closes as the process ends; its exit code follows
        code = self.process.exitcode
        with self._lock:
            self.dead = True
            inboxes = list(self._inboxes.values())
        if not self.closing:
            log.log(
                logging.ERROR if inboxes else logging.WARNING,
                "The model host process %s ended with exit code %s (%d jobs running)",
                self.pid,
                code,
                len(inboxes),
            )
        for inbox in inboxes:
            inbox.put(("ended", 0, code, self.closing))

    def close(self, grace: float = STOP_GRACE_S) -> None:
        self.closing = True
        if self.process.is_alive():
            try:
                self.send(("stop",))
            except OSError:
                pass
            self.process.join(grace)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self._reader.join(5)
        self.connection.close()
        _live_processes.discard(self)


class ModelHost:
    """Runs torch jobs in one worker process that keeps its loaded models between jobs.

    Parameters
    ----------
    device_preference
        ``auto`` (CUDA, then Apple MPS, then the CPU), ``cuda``, ``mps`` or ``cpu``; the worker
        chooses once, at its first torch job (:func:`core.compute.choose_device`).
    on_device
        Called with the :class:`DeviceInfo` a new worker chose (from a reader thread).

    The worker starts on first use and again on the next use after it ended; :meth:`close` ends
    it. Thread-safe: several threads may :meth:`run` jobs at once, which run at once.
    """

    def __init__(
        self,
        device_preference: str = "auto",
        *,
        on_device: Callable[[DeviceInfo], None] | None = None,
        reserve_cores: int = 1,
    ) -> None:
        self._preference = device_preference
        # Cores torch leaves free: one for the window's GUI thread; none for the command line.
        self._reserve_cores = reserve_cores
        self._on_device = on_device
        self._device: DeviceInfo | None = None
        self._lock = threading.Lock()
        self._process: _Process | None = None
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------------------------------
    # State

    @property
    def device_preference(self) -> str:
        return self._preference

    @property
    def device(self) -> DeviceInfo | None:
        """The device the worker chose, once a torch job ran in it (None before)."""
        return self._device

    @property
    def pid(self) -> int | None:
        """The worker's process id, while one runs."""
        process = self._process
        return None if process is None or process.dead else process.pid

    def is_running(self) -> bool:
        process = self._process
        return process is not None and not process.dead and process.process.is_alive()

    def set_device_preference(self, preference: str) -> None:
        """Models are loaded per device: the worker is replaced at the next job that finds it
        idle (running jobs end on the device they started on)."""
        with self._lock:
            if preference != self._preference:
                self._preference = preference
                self._device = None

    def _device_reported(self, info: DeviceInfo) -> None:
        self._device = info
        if self._on_device is not None:
            try:
                self._on_device(info)
            except Exception:
                log.exception("The model host's device listener failed")

    # ------------------------------------------------------------------------------------------
    # Jobs

    def run(
        self,
        fn: Callable[..., Any],
        args: tuple = (),
        kwargs: dict[str, Any] | None = None,
        *,
        progress: ProgressCallback = no_progress,
        is_cancelled: CancelCheck | None = None,
        report_partial: Callable[[Any], None] | None = None,
    ) -> Any:
        """Run ``fn(*args, **kwargs)`` in the worker; block until it ends and return its result.

        While it runs, its progress and partial results arrive here (on this thread) through
        ``progress`` and ``report_partial``, and ``is_cancelled`` is polled every
        :data:`POLL_S` seconds: once true, the job is asked to stop (at its next check).

        Raises
        ------
        JobCancelled
            The job stopped because it was cancelled.
        ModelHostCrashed
            The worker process ended while the job ran.
        ModelHostError
            ``fn`` is not a module-level function, or its inputs or result do not pickle.
        Exception
            Whatever the job raised, with its type and message (as ``RuntimeError`` when the
            exception itself cannot come back); the worker's traceback is in its notes.
        """
        module, qualname, file = function_reference(fn)
        args, kwargs, callbacks = _split_callbacks(tuple(args), dict(kwargs or {}))
        try:
            inputs = pickle.dumps(
                (args, kwargs, len(callbacks), report_partial is not None), _PROTOCOL
            )
        except Exception as exc:
            raise ModelHostError(
                f"the inputs of {qualname} cannot be sent to the model host: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        job_id = next(self._ids)
        process, inbox = self._open(job_id)
        cancel_sent = False
        try:
            try:
                process.send(("run", job_id, module, qualname, file, inputs))
            except OSError:
                pass  # the process is ending: its reader tells the inbox
            while True:
                if not cancel_sent and is_cancelled is not None and is_cancelled():
                    cancel_sent = True
                    self._send_quietly(process, ("cancel", job_id))
                try:
                    message = inbox.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                kind = message[0]
                if kind == "progress":
                    progress(message[2], message[3])
                elif kind == "partial":
                    if report_partial is not None:
                        report_partial(_caller_loads(message[2]))
                elif kind == "callback":
                    _call_back(callbacks[message[2]], message[3])
                elif kind == "done":
                    try:
                        return _caller_loads(message[2])
                    except Exception as exc:
                        raise ModelHostError(
                            f"the result of {qualname} could not be read back from the model "
                            f"host: {exc}"
                        ) from None
                elif kind == "error":
                    raise _job_error(qualname, *message[2:])
                elif kind == "cancelled":
                    raise JobCancelled()
                elif kind == "ended":
                    _, _, code, closing = message
                    if cancel_sent or (is_cancelled is not None and is_cancelled()):
                        raise JobCancelled()
                    raise ModelHostCrashed(_ended_text(code, closing))
        except BaseException:
            if not cancel_sent:  # Ctrl+C, or an error here: the job need not run on
                self._send_quietly(process, ("cancel", job_id))
            raise
        finally:
            process.release(job_id)

    def device_info(self) -> DeviceInfo:
        """The worker's compute device (importing torch there if no job has): for Help > About."""
        return self.run(worker_device_info)

    def close(self, grace: float = STOP_GRACE_S) -> None:
        """End the worker: running jobs are cancelled, and it is terminated after ``grace``
        seconds if it has not ended. The next job starts a new one."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            process.close(grace)

    # ------------------------------------------------------------------------------------------

    def _open(self, job_id: int) -> tuple[_Process, queue.SimpleQueue]:
        while True:
            retired = None
            with self._lock:
                process = self._process
                if process is not None and (
                    process.dead or (process.preference != self._preference and not process.busy)
                ):
                    retired, process = process, None
                if process is None:
                    process = self._process = _Process(self, self._preference, self._reserve_cores)
            if retired is not None:
                retired.close()
            inbox = process.open(job_id)
            if inbox is not None:
                return process, inbox
            # It ended between the check and now: the next turn starts a new one.

    @staticmethod
    def _send_quietly(process: _Process, message: tuple) -> None:
        try:
            process.send(message)
        except OSError:
            pass  # it ended; its reader reports that


def _call_back(callback: Callable[..., Any], data: bytes) -> None:
    try:
        callback(*_caller_loads(data))
    except Exception:
        log.exception("A job's callback failed")


def _job_error(
    qualname: str, data: bytes | None, type_name: str, message: str, text: str
) -> BaseException:
    exc: BaseException | None = None
    if data is not None:
        try:
            exc = _caller_loads(data)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        short = type_name.rpartition(".")[2]
        exc = RuntimeError(f"{short}: {message}" if message else short)
    log.debug("Model host job %s raised %s:\n%s", qualname, type_name, text)
    exc.add_note(f"Traceback in the model host process:\n{text}")
    return exc


def _ended_text(code: int | None, closing: bool) -> str:
    if closing:
        return "the model host was closed while the job ran"
    if code is not None and code < 0:
        how = f"was killed (signal {-code}: out of memory?)"
    else:
        how = f"ended with exit code {code}"
    return f"the model host process {how} while the job ran; run it again to start a new one"


# ----------------------------------------------------------------------------------------------
# Every host ends with the program; one shared host for callers without an engine


_live_processes: set[_Process] = set()


@atexit.register
def _close_every_process() -> None:
    # Registered after multiprocessing's own exit hook (imported above), so it runs first (atexit
    # is last in, first out): that hook joins every worker, and would wait forever for one that
    # nobody told to stop (a host that was never closed).
    for process in list(_live_processes):
        process.close(grace=1.0)


_shared: ModelHost | None = None
_shared_lock = threading.Lock()


def shared_host(device_preference: str | None = None) -> ModelHost:
    """The process's own model host, for callers without an engine (the command line, scripts,
    tests); closed at exit. ``device_preference`` replaces the preference when given. No window
    to keep responsive: torch uses every core."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ModelHost(device_preference or "auto", reserve_cores=0)
        elif device_preference is not None:
            _shared.set_device_preference(device_preference)
        return _shared


def close_shared_host() -> None:
    """End the shared host's worker, if one runs."""
    global _shared
    with _shared_lock:
        host, _shared = _shared, None
    if host is not None:
        host.close()
