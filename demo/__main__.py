"""``python -m demo`` (``make demo``): exit 0 only when every step proved what it claims; 1 when one failed, with
what failed; 128 + the signal's number when interrupted (130 for Ctrl-C). Every process the demo started is
stopped and its temporary directory removed, however it ends."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import httpx

from demo.checks import StepFailed
from demo.processes import Interrupted, Processes, Signals
from demo.report import Report
from demo.workflow import Demo


def main() -> int:
    began = time.monotonic()
    signals = Signals()
    signals.install()
    report = Report()
    with signals.held():
        root = Path(tempfile.mkdtemp(prefix="pycompass-demo-"))
    report.title("pycompass demo: the seed tutorials' workflow on one machine")
    report.title(f"state and logs in {root} (removed at the end)")
    processes = Processes(signals, logs=root)
    demo = Demo(root, processes, report)
    status = 1
    try:
        demo.run()
        status = 0
    except Interrupted as interrupted:
        report.interrupted(str(interrupted))
        status = 128 + interrupted.signum
    except (StepFailed, httpx.HTTPError) as error:
        report.failed(str(error) if isinstance(error, StepFailed) else f"{type(error).__name__}: {error}")
    finally:
        signals.stopping()
        demo.close()
        stopped = processes.stop_all()
        shutil.rmtree(root, ignore_errors=True)
        closing = f"stopped {stopped} processes, removed {root} ({time.monotonic() - began:.1f} s in all)"
        if status == 0:
            report.summary(closing)
        else:
            report.title(closing)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
