//! The plugin conformance suite: a fixed battery of checks that any plugin of the new ABI can
//! be run against (`dativo plugin test LIB[:SYMBOL]`), in the spirit of ADBC's driver
//! validation suite. Each check proves one rule of the plugin ABI (docs/plugins.md,
//! "Conformance suite"), and each can fail: `conformance_tests.rs` breaks every rule in turn.
//!
//! The checks talk to the plugin through the raw vtable, not through [`Plugin`](crate::Plugin):
//! the host forgives or hides some mistakes (it copies the name lossily, it never calls a
//! function twice), and the suite must see them. Every check that runs plugin code runs in a
//! child process ([`isolate`](crate::isolate)), so a plugin that crashes, aborts or hangs
//! fails that check ("crashed with signal 11 (SIGSEGV)") and the report goes on. Each child
//! starts from a fresh vtable, so the checks do not depend on each other's leftovers.

use std::collections::HashSet;
use std::ffi::{c_char, CStr, CString};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::ffi::FFI_ArrowArray;
use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, RecordBatchReader, StringArray, StructArray};
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::host::{self, LoadPolicy, VerifiedEntry};
use crate::isolate::{in_child, signal_name, Ending};
use dativo_abi::plugin_abi::*;
use dativo_abi::stream::{export, import_batch};
use dativo_abi::{ArrowArrayStream, DativoError, DativoStatus, DATIVO_STATUS_OK, DATIVO_STATUS_PLUGIN};
use dativo_engine::job::plugins::PluginSpec;

/// The checks, in the order a report lists them, with what each proves.
pub const CHECKS: &[(&str, &str)] = &[
    ("library.opens", "the file passes the load policy and the host's checks, loads, and exports a tagged entry"),
    ("abi.negotiates", "asked newest version first, the entry function accepts one this dativo speaks"),
    ("abi.refuses_unknown_versions", "versions that do not exist get DATIVO_STATUS_PLUGIN, so a newer host falls back"),
    ("vtable.size", "size is the size of the agreed version's vtable"),
    ("vtable.bounds", "init writes nothing past the vtable of its version"),
    ("vtable.kind", "kind is DATIVO_PLUGIN_READER or DATIVO_PLUGIN_WRITER"),
    ("vtable.name", "name is a non-empty NUL-terminated UTF-8 string"),
    ("vtable.version", "version is NULL or UTF-8"),
    ("vtable.functions", "the function of the plugin's kind is set, the other kind's is NULL"),
    ("vtable.release", "release is set, or NULL with nothing behind private_data"),
    ("init.null_vtable", "init with a NULL vtable returns a status instead of crashing"),
    ("reader.open", "open_reader with the config returns a stream with every callback"),
    ("reader.schema", "get_schema gives a struct schema that Arrow can import"),
    ("reader.batches", "every batch get_next yields is valid Arrow data of the stream's schema"),
    ("reader.end_is_sticky", "get_next after the end returns the end again"),
    ("reader.release_twice", "releasing the stream sets release to NULL, so a second release is a no-op"),
    ("reader.outlives_plugin", "the stream can be read after the vtable is released"),
    ("reader.error", "a config that must fail fails with a message, and the error never looks like the end"),
    ("reader.null_config", "open_reader with a NULL config returns a status instead of crashing"),
    ("writer.empty_stream", "a stream without batches is written, consumed and reported consistently"),
    ("writer.small_stream", "a small stream is read to its end, consumed, and its files reported consistently"),
    ("writer.stream_error", "a stream that fails mid-way fails the write and leaves no file visible"),
    ("writer.null_config", "write with a NULL config returns a status and still releases the stream"),
    ("vtable.release_twice", "release sets release to NULL, so a second release is a no-op"),
];

/// What to run the battery with.
#[derive(Debug, Clone)]
pub struct Options {
    /// A reader's `open_reader` config; the base of a writer's config (default `{}`). A
    /// writer's config gets `output_base` (a fresh temporary folder per check), `schema` and
    /// `asset_name` for the generic stream the suite writes, unless it has them.
    pub config: Option<String>,
    /// A reader config that must fail (a missing file, ...): `reader.error` is skipped without.
    pub bad_config: Option<String>,
    /// Which libraries may be loaded (sha256 pin, allowed folder).
    pub policy: LoadPolicy,
    /// Run each check in a child process (Unix), so that a crash fails one check only.
    pub isolate: bool,
    /// How long one check may take (in a child process).
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: None,
            bad_config: None,
            policy: LoadPolicy::default(),
            isolate: true,
            timeout: Duration::from_secs(120),
        }
    }
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub verdict: Verdict,
    pub detail: String,
}

/// What the battery found; `Display` prints one line per check and the summary.
#[derive(Debug, Clone)]
pub struct Report {
    /// The spec (or label) of the plugin tested.
    pub plugin: String,
    pub checks: Vec<Check>,
}

impl Report {
    fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }
    pub fn passed(&self) -> usize {
        self.count(Verdict::Pass)
    }
    pub fn failed(&self) -> usize {
        self.count(Verdict::Fail)
    }
    pub fn skipped(&self) -> usize {
        self.count(Verdict::Skip)
    }
    /// No check failed.
    pub fn ok(&self) -> bool {
        self.failed() == 0
    }
    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
    /// `N passed, M failed, K skipped`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed, {} skipped", self.passed(), self.failed(), self.skipped())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = CHECKS.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for check in &self.checks {
            writeln!(f, "{}  {:width$}  {}", check.verdict.label(), check.name, check.detail)?;
        }
        writeln!(f, "{}", self.summary())
    }
}

/// A plugin entry function: a library's, or one built in memory.
pub type Init<'a> = &'a dyn Fn(u32, *mut DativoPluginVTable, *mut DativoError) -> DativoStatus;

/// Run the battery against the native library of `spec`.
pub fn run(spec: &PluginSpec, options: &Options) -> Report {
    let label = spec.to_string();
    let mut battery = Battery::new(&label, options);
    let init = match open_library(spec, options) {
        Ok(Opened::New { init, detail }) => {
            battery.record("library.opens", Outcome::pass(detail));
            init
        }
        Ok(Opened::Legacy { detail }) => {
            battery.record("library.opens", Outcome::skip(detail));
            return battery.skip_rest("a legacy JSON ABI plugin (library.opens)");
        }
        Err(why) => {
            battery.record("library.opens", Outcome::fail(why));
            return battery.skip_rest("the library did not open (library.opens)");
        }
    };
    // SAFETY: `init` is the library's verified entry function, whose type the ABI defines.
    let call = move |v: u32, vt: *mut DativoPluginVTable, e: *mut DativoError| unsafe { init(v, vt, e) };
    battery.run_from_negotiation(&call)
}

/// Run the battery against a plugin whose entry function is `init` (a plugin built in
/// memory, or provided by a host); `label` names it in the report.
pub fn run_init(label: &str, init: Init<'_>, options: &Options) -> Report {
    let mut battery = Battery::new(label, options);
    battery.record("library.opens", Outcome::skip("not a library: the entry function was given in memory"));
    battery.run_from_negotiation(init)
}

/// What `library.opens` found.
enum Opened {
    /// A verified entry of the new ABI.
    New { init: DativoPluginInit, detail: String },
    /// A legacy Dativo plugin, which the suite does not check.
    Legacy { detail: String },
}

/// The library through the host's verified path ([`host::load_verified`]: the load policy,
/// the pre-load check of the file, the entry's tag), so the suite calls only what the host
/// would call: first in a child (the library's initialisers run there first), then here.
fn open_library(spec: &PluginSpec, options: &Options) -> Result<Opened, String> {
    let load = || host::load_verified(spec, &options.policy).map_err(|e| e.to_string());
    if options.isolate {
        let probe = in_child(options.timeout, || load().map(|_| ()));
        match ending_to_outcome(probe.map_value(|r| match r {
            Ok(()) => Outcome::pass(String::new()),
            Err(why) => Outcome::fail(why),
        })) {
            Outcome { verdict: Verdict::Pass, .. } => {}
            outcome => return Err(format!("loading the library: {}", outcome.detail)),
        }
    }
    let (canonical, entry) = load()?;
    Ok(match entry {
        VerifiedEntry::New { init, symbol } => Opened::New {
            init,
            detail: format!("{} exports {symbol}, tagged {}", canonical.display(), crate::entry::tag_name(&symbol)),
        },
        VerifiedEntry::Legacy { kind, create, .. } => Opened::Legacy {
            detail: format!(
                "legacy JSON ABI plugin: the conformance suite checks the new ABI; '{create}' is the create \
                 function of a legacy Dativo {} plugin, which dativo runs through its adapter (`dativo plugin info \
                 {spec}`; docs/plugins.md, \"The legacy Dativo JSON ABI\")",
                kind.name()
            ),
        },
    })
}

/// The result of one check, as a child sends it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Outcome {
    verdict: Verdict,
    detail: String,
}

impl Outcome {
    fn pass(detail: impl Into<String>) -> Self {
        Outcome { verdict: Verdict::Pass, detail: detail.into() }
    }
    fn fail(detail: impl Into<String>) -> Self {
        Outcome { verdict: Verdict::Fail, detail: detail.into() }
    }
    fn skip(detail: impl Into<String>) -> Self {
        Outcome { verdict: Verdict::Skip, detail: detail.into() }
    }
}

/// A check's body: Ok is a pass, Err a failure (both with their detail).
type Verdicted = Result<String, String>;

fn outcome(result: Verdicted) -> Outcome {
    match result {
        Ok(detail) => Outcome::pass(detail),
        Err(detail) => Outcome::fail(detail),
    }
}

impl<T> Ending<T> {
    fn map_value<U>(self, f: impl FnOnce(T) -> U) -> Ending<U> {
        match self {
            Ending::Returned(v) => Ending::Returned(f(v)),
            Ending::Signal(s) => Ending::Signal(s),
            Ending::Exited(c) => Ending::Exited(c),
            Ending::NoReply => Ending::NoReply,
            Ending::TimedOut(t) => Ending::TimedOut(t),
        }
    }
}

fn ending_to_outcome(ending: Ending<Outcome>) -> Outcome {
    match ending {
        Ending::Returned(outcome) => outcome,
        Ending::Signal(signal) => Outcome::fail(format!("crashed with signal {signal} ({})", signal_name(signal))),
        Ending::Exited(101) => Outcome::fail("the check panicked (see its message above); this is a bug in the suite"),
        Ending::Exited(code) => Outcome::fail(format!("the process exited with code {code} during the check")),
        Ending::NoReply => Outcome::fail("the process ended during the check without a result"),
        Ending::TimedOut(t) => Outcome::fail(format!("did not finish within {} s (killed)", t.as_secs_f64())),
    }
}

/// What the negotiation found, for deciding which checks apply.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Facts {
    version: u32,
    kind: u32,
    /// Size and kind's function are right: the functions can be called.
    callable: bool,
}

/// The vtable the plugin fills, with a guard area behind it that it must not touch.
#[repr(C)]
struct Guarded {
    vtable: DativoPluginVTable,
    guard: [u8; GUARD_BYTES],
}

const GUARD_BYTES: usize = 256;
const GUARD: u8 = 0xA5;

impl Guarded {
    fn new() -> Box<Guarded> {
        Box::new(Guarded { vtable: DativoPluginVTable::empty(), guard: [GUARD; GUARD_BYTES] })
    }
}

/// The vtable size ABI version `version` needs. Only version 1 exists; a version 2 adds its
/// size here.
fn vtable_size(_version: u32) -> u32 {
    DATIVO_PLUGIN_VTABLE_V1_SIZE
}

/// A vtable negotiated in the check's process; released when dropped (if it still can be).
struct Session<'a> {
    slot: Box<Guarded>,
    version: u32,
    options: &'a Options,
}

impl Session<'_> {
    fn vt(&mut self) -> *mut DativoPluginVTable {
        &mut self.slot.vtable
    }

    fn kind(&self) -> u32 {
        self.slot.vtable.kind
    }

    fn config(&self) -> String {
        self.options.config.clone().unwrap_or_else(|| "{}".into())
    }

    /// Call release, then forget it (whatever it left behind), so that nothing calls it again.
    fn release_vtable(&mut self) -> Option<bool> {
        let release = self.slot.vtable.release?;
        // SAFETY: the plugin's own release, called once on its vtable.
        unsafe { release(self.vt()) };
        let cleared = self.slot.vtable.release.is_none();
        self.slot.vtable.release = None;
        Some(cleared)
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self.release_vtable();
    }
}

/// In a child process the vtable is left unreleased (the process ends anyway): a release
/// that crashes fails `vtable.release_twice`, not every check.
fn forget_in_child(session: &mut Session) {
    if session.options.isolate {
        session.slot.vtable.release = None;
    }
}

/// Ask for every version this dativo speaks, newest first; the agreed version and its
/// vtable, or what went wrong.
fn negotiate(init: Init<'_>) -> Result<(u32, Box<Guarded>), String> {
    let mut refusals = Vec::new();
    for version in (1..=DATIVO_PLUGIN_ABI_VERSION).rev() {
        let mut slot = Guarded::new();
        let mut error = DativoError::default();
        let status = init(version, &mut slot.vtable, &mut error);
        let message = dativo_abi::error::take_message(&mut error, "no message");
        match status {
            DATIVO_STATUS_OK => return Ok((version, slot)),
            DATIVO_STATUS_PLUGIN => refusals.push(format!("version {version}: {message}")),
            other => {
                return Err(format!("init({version}) failed with status {other} ({}): {message}", status_text(other)))
            }
        }
    }
    Err(format!("refused every version this dativo speaks (1 to {DATIVO_PLUGIN_ABI_VERSION}): {}", refusals.join("; ")))
}

fn status_text(status: DativoStatus) -> String {
    // SAFETY: status_text returns a static C string.
    unsafe { CStr::from_ptr(dativo_abi::status::status_text(status)) }.to_string_lossy().into_owned()
}

/// A status with its description and the message: `status 1 (invalid argument): ...`.
fn status_line(status: DativoStatus, message: &str) -> String {
    format!("status {status} ({}): {message}", status_text(status))
}

/// Runs the checks and collects their lines.
struct Battery<'a> {
    label: String,
    options: &'a Options,
    checks: Vec<Check>,
}

impl<'a> Battery<'a> {
    fn new(label: &str, options: &'a Options) -> Self {
        Battery { label: label.to_string(), options, checks: Vec::new() }
    }

    fn record(&mut self, name: &str, outcome: Outcome) {
        let name = CHECKS.iter().map(|(n, _)| *n).find(|n| *n == name).expect("a known check");
        self.checks.push(Check { name, verdict: outcome.verdict, detail: outcome.detail });
    }

    fn report(self) -> Report {
        Report { plugin: self.label, checks: self.checks }
    }

    /// Every check not recorded yet is skipped, for `why`.
    fn skip_rest(mut self, why: &str) -> Report {
        for (name, _) in CHECKS {
            if self.checks.iter().all(|c| c.name != *name) {
                self.record(name, Outcome::skip(why));
            }
        }
        self.report()
    }

    /// Run `body` (in a child when isolating) and return what it sent back.
    fn isolated<T: Serialize + serde::de::DeserializeOwned>(&self, body: impl FnOnce() -> T) -> Ending<T> {
        if self.options.isolate {
            in_child(self.options.timeout, body)
        } else {
            Ending::Returned(body())
        }
    }

    /// Run the check `name` on a freshly negotiated vtable.
    fn probe(&mut self, name: &str, init: Init<'_>, body: impl FnOnce(&mut Session) -> Verdicted) {
        let options = self.options;
        let ending = self.isolated(|| match negotiate(init) {
            Ok((version, slot)) => {
                let mut session = Session { slot, version, options };
                let result = outcome(body(&mut session));
                forget_in_child(&mut session);
                result
            }
            Err(why) => Outcome::fail(format!("negotiation failed in the check's process: {why}")),
        });
        self.record(name, ending_to_outcome(ending));
    }

    fn run_from_negotiation(mut self, init: Init<'_>) -> Report {
        let ending = self.isolated(|| match negotiate(init) {
            Ok((version, slot)) => {
                let mut session = Session { slot, version, options: self.options };
                let vt = &session.slot.vtable;
                let callable = vt.size == vtable_size(version)
                    && match vt.kind {
                        DATIVO_PLUGIN_READER => vt.open_reader.is_some(),
                        DATIVO_PLUGIN_WRITER => vt.write.is_some(),
                        _ => false,
                    };
                let facts = Facts { version, kind: vt.kind, callable };
                // A vtable of the wrong size cannot be trusted to release (the host does not
                // call it either); the others are released as a host would.
                if vt.size != vtable_size(version) {
                    session.slot.vtable.release = None;
                }
                forget_in_child(&mut session);
                drop(session);
                Ok(facts)
            }
            Err(why) => Err(why),
        });
        let facts = match ending {
            Ending::Returned(Ok(facts)) => {
                let asked: Vec<String> =
                    (facts.version..=DATIVO_PLUGIN_ABI_VERSION).rev().map(|v| v.to_string()).collect();
                self.record(
                    "abi.negotiates",
                    Outcome::pass(format!("agreed on ABI version {} (asked {})", facts.version, asked.join(", then "))),
                );
                facts
            }
            Ending::Returned(Err(why)) => {
                self.record("abi.negotiates", Outcome::fail(why));
                return self.skip_rest("no vtable (abi.negotiates failed)");
            }
            other => {
                self.record("abi.negotiates", ending_to_outcome(other.map_value(|_| Outcome::pass(""))));
                return self.skip_rest("no vtable (abi.negotiates failed)");
            }
        };

        self.refuses_unknown_versions(init);
        self.probe("vtable.size", init, |s| {
            let (size, needed) = (s.slot.vtable.size, vtable_size(s.version));
            if size == needed {
                Ok(format!("{size} bytes, as ABI version {} needs", s.version))
            } else {
                // Not trusted to release, as in the host.
                s.slot.vtable.release = None;
                Err(format!(
                    "size is {size} but ABI version {} needs {needed} (sizeof(DativoPluginVTable)); rebuild \
                     against this dativo.h",
                    s.version
                ))
            }
        });
        self.probe("vtable.bounds", init, |s| {
            let touched = s.slot.guard.iter().filter(|b| **b != GUARD).count();
            let last = s.slot.guard.iter().rposition(|b| *b != GUARD);
            if s.slot.vtable.size != vtable_size(s.version) {
                s.slot.vtable.release = None;
            }
            match last {
                None => Ok(format!("nothing written past the {} bytes of the vtable", vtable_size(s.version))),
                Some(last) => Err(format!(
                    "init wrote {touched} byte(s) up to {} bytes past the end of the ABI version {} vtable",
                    last + 1,
                    s.version
                )),
            }
        });
        self.probe("vtable.kind", init, |s| match s.kind() {
            DATIVO_PLUGIN_READER => Ok("reader (DATIVO_PLUGIN_READER)".into()),
            DATIVO_PLUGIN_WRITER => Ok("writer (DATIVO_PLUGIN_WRITER)".into()),
            other => Err(format!("unknown kind {other} (1 reader, 2 writer)")),
        });
        self.probe("vtable.name", init, |s| {
            // SAFETY: the ABI says name is NULL or a NUL-terminated string.
            match unsafe { c_text(s.slot.vtable.name) } {
                None => Err("name is NULL".into()),
                Some(Err(_)) => Err("name is not valid UTF-8".into()),
                Some(Ok("")) => Err("name is empty".into()),
                Some(Ok(name)) => Ok(format!("'{name}'")),
            }
        });
        self.probe("vtable.version", init, |s| {
            // SAFETY: as for the name.
            match unsafe { c_text(s.slot.vtable.version) } {
                None => Ok("none given (NULL)".into()),
                Some(Err(_)) => Err("version is not valid UTF-8".into()),
                Some(Ok(version)) => Ok(format!("'{version}'")),
            }
        });
        self.probe("vtable.functions", init, |s| {
            let vt = &s.slot.vtable;
            match vt.kind {
                DATIVO_PLUGIN_READER if vt.open_reader.is_none() => {
                    Err("a reader must set open_reader, which is NULL".into())
                }
                DATIVO_PLUGIN_READER if vt.write.is_some() => Err("a reader must leave write NULL".into()),
                DATIVO_PLUGIN_READER => Ok("open_reader set, write NULL".into()),
                DATIVO_PLUGIN_WRITER if vt.write.is_none() => Err("a writer must set write, which is NULL".into()),
                DATIVO_PLUGIN_WRITER if vt.open_reader.is_some() => Err("a writer must leave open_reader NULL".into()),
                DATIVO_PLUGIN_WRITER => Ok("write set, open_reader NULL".into()),
                other => Err(format!("cannot tell which function kind {other} needs")),
            }
        });
        self.probe("vtable.release", init, |s| {
            let vt = &s.slot.vtable;
            match (vt.release.is_some(), vt.private_data.is_null()) {
                (true, _) => Ok("set".into()),
                (false, true) => Ok("NULL, and private_data is NULL: nothing to free".into()),
                (false, false) => {
                    Err("release is NULL but private_data is set: what it points to is never freed".into())
                }
            }
        });
        self.probe("init.null_vtable", init, |s| {
            let mut error = DativoError::default();
            let status = init(s.version, std::ptr::null_mut(), &mut error);
            let message = dativo_abi::error::take_message(&mut error, "no message");
            if status == DATIVO_STATUS_OK {
                Err("init returned DATIVO_STATUS_OK for a NULL vtable".into())
            } else {
                Ok(status_line(status, &message))
            }
        });

        let not_callable = "the vtable cannot be called (see vtable.size, vtable.kind, vtable.functions)";
        let reader_checks = [
            "reader.open",
            "reader.schema",
            "reader.batches",
            "reader.end_is_sticky",
            "reader.release_twice",
            "reader.outlives_plugin",
            "reader.error",
            "reader.null_config",
        ];
        let writer_checks = ["writer.empty_stream", "writer.small_stream", "writer.stream_error", "writer.null_config"];
        match facts.kind {
            _ if !facts.callable => {
                for name in reader_checks.iter().chain(&writer_checks) {
                    self.record(name, Outcome::skip(not_callable));
                }
            }
            DATIVO_PLUGIN_READER => {
                self.reader_checks(init);
                for name in writer_checks {
                    self.record(name, Outcome::skip("a reader plugin"));
                }
            }
            _ => {
                for name in reader_checks {
                    self.record(name, Outcome::skip("a writer plugin"));
                }
                self.writer_checks(init);
            }
        }

        self.probe("vtable.release_twice", init, |s| {
            if s.slot.vtable.size != vtable_size(s.version) {
                s.slot.vtable.release = None;
                return Ok("not called: a vtable of the wrong size is not trusted (vtable.size)".into());
            }
            match s.release_vtable() {
                None => Ok("release is NULL: nothing to release".into()),
                Some(true) => Ok("release set release to NULL: a second release is a no-op".into()),
                Some(false) => Err("release left release set: a second release would free twice".into()),
            }
        });
        self.report()
    }

    fn refuses_unknown_versions(&mut self, init: Init<'_>) {
        let ending = self.isolated(|| {
            let mut accepted = Vec::new();
            let mut wrong = Vec::new();
            for version in [0, u32::MAX] {
                let mut slot = Guarded::new();
                let mut error = DativoError::default();
                let status = init(version, &mut slot.vtable, &mut error);
                let message = dativo_abi::error::take_message(&mut error, "no message");
                match status {
                    DATIVO_STATUS_PLUGIN => {}
                    DATIVO_STATUS_OK => {
                        accepted.push(version.to_string());
                        // Not released: what it filled for a version that does not exist
                        // cannot be trusted.
                        std::mem::forget(slot);
                    }
                    other => wrong.push(format!("version {version}: {}", status_line(other, &message))),
                }
            }
            if !accepted.is_empty() {
                return Outcome::fail(format!(
                    "accepted ABI version {}, which does not exist; a plugin must refuse a version it does not \
                     speak with DATIVO_STATUS_PLUGIN",
                    accepted.join(" and ")
                ));
            }
            if !wrong.is_empty() {
                return Outcome::fail(format!(
                    "refused with another status than DATIVO_STATUS_PLUGIN, so a host would stop instead of \
                     falling back to an older version: {}",
                    wrong.join("; ")
                ));
            }
            Outcome::pass(format!("versions 0 and {} refused with DATIVO_STATUS_PLUGIN", u32::MAX))
        });
        self.record("abi.refuses_unknown_versions", ending_to_outcome(ending));
    }

    fn reader_checks(&mut self, init: Init<'_>) {
        self.probe("reader.open", init, |s| {
            let config = s.config();
            let stream = open(s, &config)?;
            let missing: Vec<&str> = [
                ("get_schema", stream.get_schema.is_none()),
                ("get_next", stream.get_next.is_none()),
                ("get_last_error", stream.get_last_error.is_none()),
            ]
            .iter()
            .filter(|(_, missing)| *missing)
            .map(|(name, _)| *name)
            .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "the stream has no {} (the Arrow C stream interface requires every callback)",
                    missing.join(", ")
                ));
            }
            Ok(format!("a stream with every callback, for config {config}"))
        });
        self.probe("reader.schema", init, |s| {
            let mut stream = open(s, &s.config())?;
            let schema = schema_of(&mut stream)?;
            let columns: Vec<String> =
                schema.fields().iter().map(|f| format!("{} {}", f.name(), f.data_type())).collect();
            Ok(format!("{} column(s): {}", columns.len(), columns.join(", ")))
        });
        self.probe("reader.batches", init, |s| {
            let mut stream = open(s, &s.config())?;
            let schema = schema_of(&mut stream)?;
            let (batches, rows) = read_to_end(&mut stream, &schema)?;
            Ok(format!("{batches} batch(es), {rows} row(s), each valid and of the stream's schema"))
        });
        self.probe("reader.end_is_sticky", init, |s| {
            let mut stream = open(s, &s.config())?;
            let schema = schema_of(&mut stream)?;
            read_to_end(&mut stream, &schema)?;
            for again in 1..=2 {
                match next_array(&mut stream) {
                    Next::End => {}
                    Next::Batch(_) => {
                        return Err(format!(
                            "get_next call {again} after the end returned a batch: the end must be sticky"
                        ))
                    }
                    Next::Failed(code, message) => {
                        return Err(format!("get_next call {again} after the end failed with code {code}: {message}"))
                    }
                }
            }
            Ok("get_next after the end returned the end twice more".into())
        });
        self.probe("reader.release_twice", init, |s| {
            let mut stream = open(s, &s.config())?;
            let schema = schema_of(&mut stream)?;
            // Mid-stream, as a consumer that stops early releases it.
            if let Next::Batch(array) = next_array(&mut stream) {
                drop(array);
            }
            drop(schema);
            let release = stream.release.expect("checked by open");
            // SAFETY: the stream's own release, on the live stream.
            unsafe { release(&mut *stream) };
            if stream.release.is_some() {
                stream.release = None; // never called again, whatever it left
                return Err("release left release set: a second release would free twice".into());
            }
            Ok("release set release to NULL: a second release is a no-op".into())
        });
        self.probe("reader.outlives_plugin", init, |s| {
            let mut stream = open(s, &s.config())?;
            let released = s.release_vtable();
            let schema = schema_of(&mut stream).map_err(|e| format!("after the vtable's release: {e}"))?;
            let (batches, rows) =
                read_to_end(&mut stream, &schema).map_err(|e| format!("after the vtable's release: {e}"))?;
            let what = if released.is_some() { "after the vtable's release" } else { "(the vtable has no release)" };
            Ok(format!("read {batches} batch(es), {rows} row(s) {what}"))
        });
        let bad_config = self.options.bad_config.clone();
        match bad_config {
            None => self.record(
                "reader.error",
                Outcome::skip("no --bad-config given (a config open_reader must fail on, such as a missing file)"),
            ),
            Some(bad) => self.probe("reader.error", init, |s| reader_error(s, &bad)),
        }
        self.probe("reader.null_config", init, |s| {
            // The NULL config is the point of the check.
            let Opening { status, message, stream, .. } = call_open_reader(s, std::ptr::null());
            if status == DATIVO_STATUS_OK {
                return Err("open_reader returned DATIVO_STATUS_OK for a NULL config".into());
            }
            if !stream.is_released() {
                return Err(format!("open_reader failed ({}) but wrote a stream", status_line(status, &message)));
            }
            Ok(status_line(status, &message))
        });
    }

    fn writer_checks(&mut self, init: Init<'_>) {
        self.writer_probe("writer.empty_stream", init, |s, out| {
            let written = write(s, Some(&writer_config(s, out)), input(vec![]))?;
            if written.status != DATIVO_STATUS_OK {
                return Err(format!(
                    "writing a stream without batches failed ({}); a writer must accept an empty stream",
                    status_line(written.status, &written.message)
                ));
            }
            written.consumed()?;
            let files = check_files(&written, 0)?;
            Ok(format!("OK; {files}"))
        });
        self.writer_probe("writer.small_stream", init, |s, out| {
            let batches = vec![Ok(generic_batch(0..3)), Ok(generic_batch(3..5))];
            let written = write(s, Some(&writer_config(s, out)), input(batches))?;
            if written.status != DATIVO_STATUS_OK {
                return Err(format!("writing 5 rows failed: {}", status_line(written.status, &written.message)));
            }
            written.consumed()?;
            if !written.read_to_end {
                return Err("write returned OK without reading its stream to the end".into());
            }
            let files = check_files(&written, 5)?;
            Ok(format!("5 rows in 2 batches read to the end; {files}"))
        });
        self.writer_probe("writer.stream_error", init, |s, out| {
            let error = ArrowError::from(dativo_engine::Error::Data(
                "conformance: row 4 is bad (a deliberate error of the suite's stream)".into(),
            ));
            let written = write(s, Some(&writer_config(s, out)), input(vec![Ok(generic_batch(0..3)), Err(error)]))?;
            if written.status == DATIVO_STATUS_OK {
                return Err("write returned DATIVO_STATUS_OK although its stream failed".into());
            }
            written.consumed()?;
            if written.message == "no message" {
                return Err(format!("write failed with status {} but without a message", written.status));
            }
            if let Some(out) = out {
                let visible = visible_files(out);
                if !visible.is_empty() {
                    return Err(format!(
                        "after the failed write these are visible in output_base: {}",
                        visible.join(", ")
                    ));
                }
            }
            Ok(format!("{}; nothing visible", status_line(written.status, &written.message)))
        });
        self.writer_probe("writer.null_config", init, |s, _| {
            let written = write(s, None, input(vec![Ok(generic_batch(0..1))]))?;
            if written.status == DATIVO_STATUS_OK {
                return Err("write returned DATIVO_STATUS_OK for a NULL config".into());
            }
            if written.stream_live {
                return Err(format!(
                    "write failed ({}) but left the stream unreleased: a writer consumes its stream also when it fails",
                    status_line(written.status, &written.message)
                ));
            }
            Ok(status_line(written.status, &written.message))
        });
    }

    /// A writer check with a fresh temporary output folder (None when the config has its own
    /// output_base, or no folder can be made).
    fn writer_probe(
        &mut self,
        name: &str,
        init: Init<'_>,
        body: impl FnOnce(&mut Session, Option<&Path>) -> Verdicted,
    ) {
        let has_own = config_object(self.options.config.as_deref()).is_some_and(|c| c.contains_key("output_base"));
        let dir = if has_own { None } else { tempfile::Builder::new().prefix("dativo-conformance-").tempdir().ok() };
        let out = dir.as_ref().map(|d| d.path().join("out"));
        self.probe(name, init, |s| body(s, out.as_deref()));
    }
}

/// A NUL-terminated string from the plugin: None for NULL.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn c_text<'a>(p: *const c_char) -> Option<Result<&'a str, std::str::Utf8Error>> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_str())
}

/// open_reader with `config`; the live stream, boxed so that it stays where the plugin put
/// it (a stream may keep its own address).
fn open(s: &mut Session, config: &str) -> Result<Box<ArrowArrayStream>, String> {
    let config_c = CString::new(config).map_err(|_| "the config contains a NUL character".to_string())?;
    let Opening { status, message, stream, .. } = call_open_reader(s, config_c.as_ptr());
    if status != DATIVO_STATUS_OK {
        return Err(format!(
            "open_reader with config {config} failed: {}{}",
            status_line(status, &message),
            if s.options.config.is_none() { " (give the plugin's config with --config)" } else { "" }
        ));
    }
    if stream.is_released() {
        return Err("open_reader returned DATIVO_STATUS_OK but no stream (release is NULL)".into());
    }
    Ok(stream)
}

/// What one raw open_reader call gave.
struct Opening {
    status: DativoStatus,
    /// Whether the plugin filled the error's message.
    has_message: bool,
    message: String,
    /// Boxed, so that it stays where the plugin put it (a stream may keep its own address).
    stream: Box<ArrowArrayStream>,
}

/// Call open_reader with `config` (a NUL-terminated string, or NULL).
fn call_open_reader(s: &mut Session, config: *const c_char) -> Opening {
    let open = s.slot.vtable.open_reader.expect("callable");
    let mut stream = Box::new(ArrowArrayStream::empty());
    let mut error = DativoError::default();
    // SAFETY: the vtable is callable; `config` is NULL or a valid string, the out-structs are
    // valid.
    let status = unsafe { open(s.vt(), config, &mut *stream, &mut error) };
    let has_message = !error.message.is_null();
    let message = dativo_abi::error::take_message(&mut error, "no message");
    Opening { status, has_message, message, stream }
}

/// The stream's get_last_error text.
fn last_error(stream: &mut ArrowArrayStream) -> Option<String> {
    let get = stream.get_last_error?;
    // SAFETY: a live stream's callback.
    let p = unsafe { get(stream) };
    // SAFETY: NULL or a NUL-terminated string valid until the next call.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

fn schema_of(stream: &mut ArrowArrayStream) -> Result<SchemaRef, String> {
    let get_schema = stream.get_schema.ok_or("the stream has no get_schema")?;
    let mut schema = FFI_ArrowSchema::empty();
    // SAFETY: a live stream and a valid out-struct.
    let code = unsafe { get_schema(stream, &mut schema) };
    if code != 0 {
        let message = last_error(stream).unwrap_or_else(|| "get_last_error gives nothing".into());
        return Err(format!("get_schema failed with code {code}: {message}"));
    }
    if schema.release().is_none() {
        return Err("get_schema returned 0 but a released schema (release is NULL)".into());
    }
    let format = catch_unwind(AssertUnwindSafe(|| schema.format().to_string()))
        .map_err(|_| "the schema's format is NULL or not UTF-8".to_string())?;
    if format != "+s" {
        return Err(format!("the stream's schema has format '{format}'; a record batch stream's is a struct ('+s')"));
    }
    let imported = catch_unwind(AssertUnwindSafe(|| Schema::try_from(&schema)))
        .map_err(|_| "importing the schema panicked".to_string())?;
    imported.map(Arc::new).map_err(|e| format!("the schema cannot be imported: {e}"))
}

enum Next {
    End,
    Batch(FFI_ArrowArray),
    Failed(i32, String),
}

fn next_array(stream: &mut ArrowArrayStream) -> Next {
    let Some(get_next) = stream.get_next else { return Next::Failed(-1, "the stream has no get_next".into()) };
    let mut array = FFI_ArrowArray::empty();
    // SAFETY: a live stream and a valid out-struct.
    let code = unsafe { get_next(stream, &mut array) };
    if code != 0 {
        let message = last_error(stream).unwrap_or_else(|| "get_last_error gives nothing".into());
        return Next::Failed(code, message);
    }
    if array.is_released() {
        Next::End
    } else {
        Next::Batch(array)
    }
}

/// Read every batch, checking each against `schema`; (batches, rows).
fn read_to_end(stream: &mut ArrowArrayStream, schema: &SchemaRef) -> Result<(usize, usize), String> {
    let (mut batches, mut rows) = (0, 0);
    loop {
        match next_array(stream) {
            Next::End => return Ok((batches, rows)),
            Next::Failed(code, message) => {
                return Err(format!("get_next failed on batch {} with code {code}: {message}", batches + 1))
            }
            Next::Batch(array) => {
                batches += 1;
                let batch = catch_unwind(AssertUnwindSafe(|| {
                    // SAFETY: the plugin promises an array of the schema; the checks below
                    // find out when it is not.
                    unsafe { import_batch(array, schema) }.map_err(|f| f.message)
                }))
                .map_err(|_| format!("batch {batches}: importing it panicked"))?
                .map_err(|m| format!("batch {batches} does not match the stream's schema: {m}"))?;
                StructArray::from(batch.clone())
                    .into_data()
                    .validate_full()
                    .map_err(|e| format!("batch {batches} is not valid Arrow data: {e}"))?;
                rows += batch.num_rows();
            }
        }
    }
}

/// `reader.error`: the bad config fails at open, or its stream fails, and after the failure
/// the stream never reports the end.
fn reader_error(s: &mut Session, bad: &str) -> Verdicted {
    let config = CString::new(bad).map_err(|_| "--bad-config contains a NUL character".to_string())?;
    let Opening { status, has_message, message, mut stream } = call_open_reader(s, config.as_ptr());
    if status != DATIVO_STATUS_OK {
        if !has_message {
            return Err(format!("open_reader failed with status {status} but left the error without a message"));
        }
        if !stream.is_released() {
            return Err(format!("open_reader failed ({}) but also wrote a stream", status_line(status, &message)));
        }
        return Ok(format!("open_reader failed: {}", status_line(status, &message)));
    }
    if stream.is_released() {
        return Err("open_reader returned DATIVO_STATUS_OK but no stream".into());
    }
    // The error must come through the stream.
    let failure = match schema_of(&mut stream) {
        Err(why) => why,
        Ok(_) => {
            let mut batches = 0;
            loop {
                match next_array(&mut stream) {
                    Next::End => {
                        return Err(format!(
                            "open_reader accepted --bad-config and its stream ended cleanly after {batches} batch(es): \
                             an error must never look like the end of the data"
                        ))
                    }
                    Next::Batch(_) => batches += 1,
                    Next::Failed(code, _) if last_error(&mut stream).is_none() => {
                        return Err(format!("get_next failed with code {code} but get_last_error gives NULL"))
                    }
                    Next::Failed(code, message) => break format!("get_next failed with code {code}: {message}"),
                }
            }
        }
    };
    if failure.contains("get_last_error gives nothing") {
        return Err(format!("{failure}: get_last_error must describe the error"));
    }
    match next_array(&mut stream) {
        Next::Failed(..) => Ok(format!("{failure}; get_next fails again after it")),
        Next::End => Err(format!("{failure}, then get_next reported the end: the error looked like the end")),
        Next::Batch(_) => Err(format!("{failure}, then get_next returned a batch: errors must be sticky")),
    }
}

/// The writer config of a check: the user's config (an object) with output_base, schema and
/// asset_name added when missing.
fn writer_config(s: &Session, out: Option<&Path>) -> String {
    let Some(mut config) = config_object(s.options.config.as_deref()) else { return s.config() };
    if let Some(out) = out {
        config.entry("output_base").or_insert_with(|| out.display().to_string().into());
    }
    config.entry("asset_name").or_insert_with(|| "conformance".into());
    let columns: Vec<serde_json::Value> = generic_schema()
        .fields()
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name(),
                "type": dativo_engine::schema::type_name(f.data_type()),
                "required": !f.is_nullable(),
            })
        })
        .collect();
    config.entry("schema").or_insert_with(|| columns.into());
    serde_json::Value::Object(config).to_string()
}

fn config_object(config: Option<&str>) -> Option<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_str(config.unwrap_or("{}")) {
        Ok(serde_json::Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The stream the suite writes: id int64 not null, name utf8, amount float64.
fn generic_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
    ]))
}

fn generic_batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let names: StringArray = ids.clone().map(|i| (i % 2 == 0).then(|| format!("name-{i}"))).collect();
    let amounts: Float64Array = ids.clone().map(|i| Some(i as f64 * 1.5)).collect();
    RecordBatch::try_new(
        generic_schema(),
        vec![Arc::new(Int64Array::from_iter_values(ids)), Arc::new(names), Arc::new(amounts)],
    )
    .expect("the generic batch matches its schema")
}

/// A reader of `batches` that notes whether it was read to its end.
struct Input {
    batches: std::vec::IntoIter<Result<RecordBatch, ArrowError>>,
    ended: Arc<AtomicBool>,
}

impl Iterator for Input {
    type Item = Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        let item = self.batches.next();
        if item.is_none() {
            self.ended.store(true, Ordering::SeqCst);
        }
        item
    }
}

impl RecordBatchReader for Input {
    fn schema(&self) -> SchemaRef {
        generic_schema()
    }
}

fn input(batches: Vec<Result<RecordBatch, ArrowError>>) -> Input {
    Input { batches: batches.into_iter(), ended: Arc::new(AtomicBool::new(false)) }
}

/// A file a writer reported: its path (None when NULL or not UTF-8), rows, bytes.
type Reported = (Option<String>, u64, u64);

/// What a write did.
struct Written {
    status: DativoStatus,
    message: String,
    files: Vec<Reported>,
    /// The plugin did not release (consume) the stream.
    stream_live: bool,
    read_to_end: bool,
}

impl Written {
    fn consumed(&self) -> Result<(), String> {
        if self.stream_live {
            return Err("write returned without releasing the stream: a writer consumes (releases) its stream".into());
        }
        Ok(())
    }
}

fn write(s: &mut Session, config: Option<&str>, input: Input) -> Result<Written, String> {
    let config = match config {
        Some(text) => Some(CString::new(text).map_err(|_| "the config contains a NUL character".to_string())?),
        None => None,
    };
    let ended = input.ended.clone();
    let mut stream = Box::new(ArrowArrayStream::empty());
    // SAFETY: a valid out-struct.
    unsafe { export(Box::new(input), &mut *stream) };
    let mut files: Vec<Reported> = Vec::new();
    let mut sink = DativoFileSink { private_data: (&mut files as *mut Vec<Reported>).cast(), add: Some(add_file) };
    let mut error = DativoError::default();
    let write = s.slot.vtable.write.expect("callable");
    let config_ptr = config.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: the vtable is callable; the stream is moved to the plugin; `sink` lives through
    // the call.
    let status = unsafe { write(s.vt(), config_ptr, &mut *stream, &mut sink, &mut error) };
    let message = dativo_abi::error::take_message(&mut error, "no message");
    let stream_live = !stream.is_released();
    drop(stream); // ours to release when the plugin did not
    Ok(Written { status, message, files, stream_live, read_to_end: ended.load(Ordering::SeqCst) })
}

/// `DativoFileSink.add` of the suite: records every call, refuses NULL and non-UTF-8 paths as
/// the host does.
unsafe extern "C" fn add_file(sink: *mut DativoFileSink, path: *const c_char, rows: u64, bytes: u64) -> DativoStatus {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if sink.is_null() {
            return dativo_abi::DATIVO_STATUS_INVALID_ARGUMENT;
        }
        let files = &mut *(*sink).private_data.cast::<Vec<Reported>>();
        let path = (!path.is_null()).then(|| CStr::from_ptr(path).to_str().ok().map(str::to_string)).flatten();
        let valid = path.is_some();
        files.push((path, rows, bytes));
        if valid {
            DATIVO_STATUS_OK
        } else {
            dativo_abi::DATIVO_STATUS_INVALID_ARGUMENT
        }
    }));
    outcome.unwrap_or(dativo_abi::DATIVO_STATUS_INTERNAL)
}

/// The reported files are consistent: valid distinct paths, local ones exist with the size
/// reported, and the rows add up to `rows`. Describes them.
fn check_files(written: &Written, rows: u64) -> Result<String, String> {
    let mut seen = HashSet::new();
    let mut total = 0;
    for (path, file_rows, bytes) in &written.files {
        let Some(path) = path else { return Err("reported a file with a NULL or non-UTF-8 path".into()) };
        if path.is_empty() {
            return Err("reported a file with an empty path".into());
        }
        if !seen.insert(path.clone()) {
            return Err(format!("reported {path} twice"));
        }
        if !path.contains("://") {
            let size =
                std::fs::metadata(path).map_err(|e| format!("reported {path}, which cannot be read: {e}"))?.len();
            if size != *bytes {
                return Err(format!("reported {path} with {bytes} bytes, but the file has {size}"));
            }
        }
        total += file_rows;
    }
    if total != rows {
        return Err(format!("reported {total} row(s) in its files, but {rows} were written"));
    }
    Ok(match written.files.as_slice() {
        [] => "no file reported".into(),
        [(Some(path), rows, bytes)] => format!("1 file reported ({path}: {rows} rows, {bytes} bytes)"),
        files => format!("{} files reported, {total} rows in all", files.len()),
    })
}

/// The entries of `dir` (recursively) whose names do not start with '.'.
fn visible_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut folders = vec![PathBuf::from(dir)];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                folders.push(path);
            } else {
                found.push(path.display().to_string());
            }
        }
    }
    found.sort();
    found
}
