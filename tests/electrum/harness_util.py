"""Process helpers shared by check_reference.py and record_quirks.py."""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"   # Debian's python with python3-electrum 4.3.4 (not the pyenv shim)


class Proc:
    """Start `cmd`, wait for a 'READY <port>' line on stdout."""

    def __init__(self, cmd, timeout=20, stderr_path=None):
        self.stderr_path = stderr_path or os.devnull
        self._err = open(self.stderr_path, "wb")
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._err, text=True)
        deadline = time.monotonic() + timeout
        self.port = None
        while time.monotonic() < deadline:
            line = self.p.stdout.readline()
            if not line:
                if self.p.poll() is not None:
                    break
                continue
            if line.startswith("READY "):
                self.port = int(line.split()[1])
                break
        if self.port is None:
            self.stop()
            raise RuntimeError(f"{cmd[1]} did not print READY (rc={self.p.poll()}, stderr in {self.stderr_path})")

    def stop(self, timeout=15):
        """SIGTERM this process (by its pid) and wait; returns its exit code."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._err.close()
        return self.p.returncode


def run_client(url, out, *extra, timeout=90):
    cmd = [PY, os.path.join(HERE, "electrum_client_sync.py"), "--url", url, "--out", out, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr
