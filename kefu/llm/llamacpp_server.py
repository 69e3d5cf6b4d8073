"""llama.cpp's own OpenAI-compatible server for one GGUF file, in a process of its own.

``python -m kefu.llm.llamacpp_server --model F [--alias A] [--host H] [--port P] [--ctx N]
[--threads T]`` serves ``/v1/chat/completions`` and ``/v1/models`` with the server built
into the ``xllamacpp`` wheel (extra ``kefu[llamacpp]``). Being a separate process, a crash
in native code ends it, never kefu (or pytest). Once listening it prints one line,
``kefu-llamacpp-server listening on URL``; it stops cleanly on SIGTERM or SIGINT, and with
``--stop-on-stdin-eof`` also when its standard input closes (whoever started it is gone).

:class:`LlamaCppServer` starts it from Python on a free loopback port and waits until
``/v1/models`` answers: the ``llamacpp`` provider, the tests and the bench all use it.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from kefu.core.errors import ConfigError, ProviderError

__all__ = ["INSTALL_HINT", "LlamaCppServer", "main", "require_xllamacpp"]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'kefu[llamacpp]'"
_READY = "kefu-llamacpp-server listening on "
_TAIL_LINES = 40
_ERROR_LINE = re.compile(r"^[\d.]+ E +(.+)$")  # "0.00.005.381 E gguf_init_from_reader: …"


def require_xllamacpp(key: str | None = None) -> None:
    """Raise one clear :class:`ConfigError` when the ``xllamacpp`` wheel is not installed.

    Only looks the package up: its 100 MB of native code is loaded by the server process,
    not by kefu's."""
    if importlib.util.find_spec("xllamacpp") is None:
        raise ConfigError(
            f"running a GGUF model needs llama.cpp's server (xllamacpp): {INSTALL_HINT}",
            key=key,
        )


def _import_xllamacpp() -> ModuleType:
    require_xllamacpp()
    import xllamacpp

    return xllamacpp


class LlamaCppServer:
    """``python -m kefu.llm.llamacpp_server`` for one GGUF file, started and ready.

    It binds a port the OS picks on ``host`` (no race with other processes for a "free"
    port) and is stopped by :meth:`stop`, when kefu exits, and — through its standard
    input — even when kefu is killed. Its output (errors only, unless ``verbose``) goes to
    this module's logger; the first error explains a failure.
    """

    def __init__(
        self,
        model: Path,
        *,
        alias: str,
        ctx: int = 4096,
        threads: int | None = None,
        host: str = "127.0.0.1",
        start_timeout_s: float = 180.0,
        verbose: bool = False,
    ) -> None:
        require_xllamacpp()
        self.model = Path(model)
        self.alias = alias
        command = [
            sys.executable, "-m", "kefu.llm.llamacpp_server", "--model", str(self.model),
            "--alias", alias, "--host", host, "--port", "0", "--ctx", str(ctx),
            "--stop-on-stdin-eof",
        ]  # fmt: skip
        if threads:
            command += ["--threads", str(threads)]
        if verbose:
            command.append("--verbose")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,  # kept open: it closes, and the server stops, when kefu ends
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._finalizer = weakref.finalize(self, _stop_process, self.process, 15.0)
        self._tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self._ready = threading.Event()
        self._url = ""
        threading.Thread(target=self._read_output, name="llamacpp-output", daemon=True).start()
        try:
            self.base_url = self._wait_until_ready(start_timeout_s)
        except BaseException:
            self.stop()
            raise

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self.process.poll()

    def first_error(self) -> str:
        """llama.cpp's first error line (the cause; later ones are consequences), else the
        last line of output ("" when there was none)."""
        for line in self._tail:
            found = _ERROR_LINE.match(line)
            if found:
                return found.group(1)
        return self._tail[-1] if self._tail else ""

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout_s``) and wait for it."""
        self._finalizer.detach()
        _stop_process(self.process, timeout_s)

    def __enter__(self) -> LlamaCppServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            line = line.rstrip()
            if line.startswith(_READY):
                self._url = line.removeprefix(_READY).strip()
                self._ready.set()
            elif line:
                self._tail.append(line)
                log.warning("llama.cpp (%s): %s", self.model.name, line)
        self._ready.set()  # the process ended: no need to wait any longer

    def _wait_until_ready(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        what = f"llama.cpp server for {self.model.name}"
        if not self._ready.wait(timeout_s) or not self._url:
            try:  # output ended: the process is exiting
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            if not self.running:
                cause = self.first_error() or f"exit code {self.exit_code}"
                raise ProviderError(f"{what} did not start: {cause}")
            raise ProviderError(f"{what} did not start in {timeout_s:.0f} s")
        base_url = f"{self._url.rstrip('/')}/v1"
        while True:  # listening already; /v1/models proves it serves the model
            try:
                if httpx.get(f"{base_url}/models", timeout=5).status_code == 200:
                    return base_url
            except httpx.TransportError:
                pass
            if not self.running or time.monotonic() > deadline:
                raise ProviderError(f"{what} does not answer /v1/models at {base_url}")
            time.sleep(0.1)


def _stop_process(process: subprocess.Popen[str], timeout_s: float) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:  # a broken pipe to a server that died
                pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kefu.llm.llamacpp_server",
        description="Serve a GGUF model over llama.cpp's OpenAI-compatible API.",
    )
    parser.add_argument("--model", type=Path, required=True, help="GGUF file")
    parser.add_argument("--alias", help="model name in /v1/models (default: the file's stem)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0: a free port the OS picks")
    parser.add_argument("--ctx", type=int, default=4096, help="context window in tokens")
    parser.add_argument("--threads", type=int, help="CPU threads (default: llama.cpp's choice)")
    parser.add_argument("--verbose", action="store_true", help="llama.cpp's info log too")
    parser.add_argument(
        "--stop-on-stdin-eof", action="store_true", help="stop when standard input closes"
    )
    return parser


def _params(xlc: Any, args: argparse.Namespace) -> Any:
    params = xlc.CommonParams()
    params.model.path = str(args.model)
    params.model_alias = {args.alias or args.model.stem}  # a set of names (a str would split)
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx
    if args.threads:
        params.cpuparams.n_threads = args.threads
        params.cpuparams_batch.n_threads = args.threads
    params.verbosity = 3 if args.verbose else 1  # 1: errors only
    return params


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT (or stdin closes); 2 for a usage mistake, 1 for a failure."""
    args = _parser().parse_args(argv)
    try:
        xlc = _import_xllamacpp()
    except ConfigError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    if not args.model.is_file():
        print(f"no GGUF model file at {args.model}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if args.stop_on_stdin_eof:
        threading.Thread(target=_wait_for_eof, args=(stop,), daemon=True).start()
    try:
        server = xlc.Server(_params(xlc, args))  # loads the model, then listens in threads
    except RuntimeError as exc:
        print(f"llama.cpp server did not start: {exc}", file=sys.stderr)
        return 1
    print(f"{_READY}{server.listening_address}", flush=True)
    stop.wait()
    del server  # its destructor ends the HTTP loop and frees the model
    return 0


def _wait_for_eof(stop: threading.Event) -> None:
    # The raw descriptor: a thread blocked in sys.stdin's buffered reader would hold its
    # lock at interpreter shutdown, which Python treats as a fatal error.
    try:
        while os.read(0, 4096):
            pass
    finally:
        stop.set()


if __name__ == "__main__":
    sys.exit(main())
