//! Run a piece of plugin code in a child process, so that a plugin that crashes, aborts or
//! hangs is reported instead of taking the caller down with it.
//!
//! On Unix the caller forks: the child runs the closure, sends its result back through a pipe
//! (as JSON) and exits without running any destructor of the parent's state; the parent waits
//! with a deadline and tells apart a result, a signal, an exit and a timeout. Forking (rather
//! than starting a helper binary) works for plugins the caller built in memory as well as for
//! libraries, and needs nothing but the caller's own process. Elsewhere the closure runs in
//! the calling process.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// How a closure run by [`in_child`] ended.
#[derive(Debug)]
pub enum Ending<T> {
    /// It returned this value.
    Returned(T),
    /// The child was killed by this signal (a crash, or an abort).
    Signal(i32),
    /// The child exited with this code before returning (the code called `exit`, or the
    /// closure panicked: 101).
    Exited(i32),
    /// The child exited with code 0 but sent no result.
    NoReply,
    /// The child did not finish in time and was killed.
    TimedOut(Duration),
}

/// Run `f` in a forked child and return how it ended; `timeout` bounds the wait.
///
/// The child only has the calling thread: `f` must not wait for other threads of the caller.
/// Its standard output goes to the caller's standard error, so that whatever plugin code
/// prints cannot mix with what the caller prints on standard output.
#[cfg(unix)]
pub fn in_child<T: Serialize + DeserializeOwned>(timeout: Duration, f: impl FnOnce() -> T) -> Ending<T> {
    use std::time::Instant;

    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Ending::Returned(f());
    }
    let (read_fd, write_fd) = (fds[0], fds[1]);
    // SAFETY: the child only runs `f`, writes to the pipe and calls `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        // SAFETY: both descriptors are ours.
        unsafe {
            libc::close(read_fd);
            libc::close(write_fd);
        }
        return Ending::Returned(f());
    }
    if pid == 0 {
        // SAFETY: in the child: plain system calls on descriptors it owns.
        unsafe {
            libc::close(read_fd);
            libc::dup2(2, 1);
            // A crash is an expected outcome here: no core file for it.
            let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
        }
        let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(value) => {
                let bytes = serde_json::to_vec(&value).unwrap_or_default();
                write_all(write_fd, &bytes);
                0
            }
            Err(_) => 101,
        };
        // SAFETY: ends the child without unwinding into, or running destructors of, state
        // that belongs to the parent (temporary folders, buffered output).
        unsafe { libc::_exit(code) }
    }
    // SAFETY: the parent's copy of the write end; the child holds its own.
    unsafe {
        libc::close(write_fd);
        let flags = libc::fcntl(read_fd, libc::F_GETFL);
        libc::fcntl(read_fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let deadline = Instant::now() + timeout;
    let mut reply = Vec::new();
    let mut status: libc::c_int = 0;
    let ending = loop {
        // Drain while waiting: a child blocked on a full pipe would never exit.
        let mut poll = libc::pollfd { fd: read_fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut poll, 1, 5) };
        drain(read_fd, &mut reply);
        // SAFETY: `pid` is our child; `status` is writable.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if waited == pid {
            drain(read_fd, &mut reply);
            break None;
        }
        if waited < 0 {
            break Some(Ending::NoReply);
        }
        if Instant::now() >= deadline {
            // SAFETY: our child, then reaped.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            break Some(Ending::TimedOut(timeout));
        }
    };
    // SAFETY: ours.
    unsafe { libc::close(read_fd) };
    if let Some(ending) = ending {
        return ending;
    }
    if libc::WIFSIGNALED(status) {
        return Ending::Signal(libc::WTERMSIG(status));
    }
    match libc::WEXITSTATUS(status) {
        0 => serde_json::from_slice(&reply).map(Ending::Returned).unwrap_or(Ending::NoReply),
        code => Ending::Exited(code),
    }
}

/// Elsewhere: `f` runs in the calling process.
#[cfg(not(unix))]
pub fn in_child<T: Serialize + DeserializeOwned>(_timeout: Duration, f: impl FnOnce() -> T) -> Ending<T> {
    Ending::Returned(f())
}

#[cfg(unix)]
fn write_all(fd: libc::c_int, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid buffer.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// Read what is available without blocking.
#[cfg(unix)]
fn drain(fd: libc::c_int, into: &mut Vec<u8>) {
    let mut buffer = [0u8; 8192];
    loop {
        // SAFETY: `buffer` is writable.
        let n = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
        if n <= 0 {
            return;
        }
        into.extend_from_slice(&buffer[..n as usize]);
    }
}

/// The conventional name of a signal (`SIGSEGV`), or its number.
pub fn signal_name(signal: i32) -> String {
    #[cfg(unix)]
    {
        let known = [
            (libc::SIGSEGV, "SIGSEGV"),
            (libc::SIGABRT, "SIGABRT"),
            (libc::SIGBUS, "SIGBUS"),
            (libc::SIGILL, "SIGILL"),
            (libc::SIGFPE, "SIGFPE"),
            (libc::SIGKILL, "SIGKILL"),
            (libc::SIGTRAP, "SIGTRAP"),
            (libc::SIGTERM, "SIGTERM"),
        ];
        if let Some((_, name)) = known.iter().find(|(s, _)| *s == signal) {
            return (*name).to_string();
        }
    }
    format!("signal {signal}")
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(30);

    #[test]
    fn a_result_comes_back_and_the_parent_state_is_untouched() {
        let mut parent_only = vec![1];
        let ending = in_child(LONG, || {
            parent_only.push(2); // the child's copy
            "done".to_string()
        });
        assert!(matches!(ending, Ending::Returned(ref s) if s == "done"), "{ending:?}");
        assert_eq!(parent_only, [1]);
    }

    #[test]
    fn a_crash_an_exit_and_a_hang_are_told_apart() {
        let crash = in_child(LONG, || -> u8 {
            // Rust's stack-overflow handler takes a SIGSEGV that is not a fault and returns.
            unsafe {
                libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                libc::raise(libc::SIGSEGV);
            }
            0
        });
        assert!(matches!(crash, Ending::Signal(s) if s == libc::SIGSEGV), "{crash:?}");
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV");
        let abort = in_child(LONG, || -> u8 { std::process::abort() });
        assert!(matches!(abort, Ending::Signal(s) if s == libc::SIGABRT), "{abort:?}");
        let exit = in_child(LONG, || -> u8 { unsafe { libc::_exit(3) } });
        assert!(matches!(exit, Ending::Exited(3)), "{exit:?}");
        let hang = in_child(Duration::from_millis(200), || -> u8 {
            std::thread::sleep(Duration::from_secs(60));
            0
        });
        assert!(matches!(hang, Ending::TimedOut(_)), "{hang:?}");
    }

    #[test]
    fn a_large_result_does_not_block_the_child() {
        let ending = in_child(LONG, || "x".repeat(1 << 20));
        assert!(matches!(ending, Ending::Returned(ref s) if s.len() == 1 << 20), "{ending:?}");
    }
}
