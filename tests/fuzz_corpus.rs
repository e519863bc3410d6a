//! Replays the fuzz corpora (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`) through the
//! same harness functions the cargo-fuzz targets call (`tests/fuzz_harness/`), then runs a
//! small deterministic mutation loop over every seed. Runs on stable Rust in `cargo test`;
//! the real fuzzers are described in fuzz/README.md.
//!
//! Files under a `known-bugs` subfolder of `fuzz/regressions/<target>/` are not replayed: they
//! reproduce bugs that are reported but not fixed yet.

#[path = "fuzz_harness/mod.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest time one input may take (debug build, busy machine) before it counts as a hang.
const HANG: Duration = Duration::from_secs(20);

/// Mutated variants run per seed.
const MUTATIONS: usize = 200;

/// Longest mutated input.
const MAX_MUTANT: usize = 2048;

type Harness = fn(&[u8]);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Files directly in `dir` (sorted; missing directory = none), skipping `known-bugs/`.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    for kind in ["corpus", "regressions"] {
        for path in inputs(&root().join(kind).join(target)) {
            let bytes = std::fs::read(&path).unwrap();
            all.push((path.display().to_string(), bytes));
        }
    }
    all
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run every input on one worker thread; a panic or an input slower than [`HANG`] fails with
/// the input in hex, so it can be saved as a regression file.
fn run_all(target: &str, harness: Harness, cases: Vec<(String, Vec<u8>)>) -> usize {
    let count = cases.len();
    let (done_tx, done_rx) = mpsc::channel::<usize>();
    let (case_tx, case_rx) = mpsc::channel::<(String, Vec<u8>)>();
    let worker = std::thread::spawn(move || {
        for (i, (_, bytes)) in case_rx.iter().enumerate() {
            harness(&bytes);
            if done_tx.send(i).is_err() {
                return;
            }
        }
    });
    for (i, (name, bytes)) in cases.into_iter().enumerate() {
        case_tx.send((name.clone(), bytes.clone())).unwrap();
        match done_rx.recv_timeout(HANG) {
            Ok(j) => assert_eq!(i, j),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("{target}: input {name} ran longer than {HANG:?} (a hang?); input hex: {}", hex(&bytes))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = worker.join();
                panic!("{target}: input {name} panicked (message above); input hex: {}", hex(&bytes))
            }
        }
    }
    drop(case_tx);
    worker.join().unwrap();
    count
}

/// xorshift64*: a tiny deterministic PRNG, so every run mutates the same way.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four random edits of `seed`: byte flips, inserts of hostile bytes, deletions,
/// duplicated slices, truncation.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    const HOSTILE: [u8; 10] = [b'"', b',', b'\n', b'\r', 0, 0xFF, 0xFE, b'\\', b';', b'\t'];
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = at.min(data.len() - 1);
                data[i] ^= 1 << rng.below(8);
            }
            1 | 2 => data.insert(at, HOSTILE[rng.below(HOSTILE.len())]),
            3 if !data.is_empty() => {
                let i = at.min(data.len() - 1);
                data[i] = rng.next() as u8;
            }
            4 if at < data.len() => {
                let end = (at + 1 + rng.below(8)).min(data.len());
                data.drain(at..end);
            }
            5 if at < data.len() => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                let piece = data[at..end].to_vec();
                data.splice(at..at, piece);
            }
            _ => data.truncate(at),
        }
    }
    data.truncate(MAX_MUTANT);
    data
}

fn replay_and_mutate(target: &str, harness: Harness, seed_salt: u64) {
    let cases = corpus(target);
    assert!(!cases.is_empty(), "no corpus for {target} under {}", root().display());
    let started = Instant::now();
    let replayed = run_all(target, harness, cases.clone());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed_salt);
    let mut mutants = Vec::new();
    for (name, bytes) in &cases {
        for i in 0..MUTATIONS {
            let mutant = mutate(bytes, &mut rng);
            mutants.push((format!("{name} (mutation {i})"), mutant));
        }
    }
    let mutated = run_all(target, harness, mutants);
    eprintln!("{target}: replayed {replayed} inputs, ran {mutated} mutants in {:.1?}", started.elapsed());
}

#[test]
fn csv_reader_corpus() {
    replay_and_mutate("csv_reader", harness::csv_reader, 1);
}

#[test]
fn job_config_corpus() {
    replay_and_mutate("job_config", harness::job_config, 2);
}

#[test]
fn job_yaml_depth_corpus() {
    replay_and_mutate("job_yaml_depth", harness::job_yaml_depth, 4);
}

#[test]
fn plugin_file_corpus() {
    replay_and_mutate("plugin_file", harness::plugin_file, 5);
}

#[test]
fn c_api_corpus() {
    replay_and_mutate("c_api", harness::c_api, 3);
}

#[test]
fn a_yaml_alias_bomb_is_refused_quickly() {
    // Nine levels of nine aliases: 9^9 (387 million) nodes if expanded. It sits under
    // `source_connector`, which the job parser reads as `IgnoredAny`, so serde walks the whole
    // value (an unknown top-level key would be refused before the aliases are followed).
    let mut text = String::from("source_connector:\n  - &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!("  - &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
    }
    text.push_str("source: {files: [a.csv]}\ntarget: {output_base: out}\n");
    let started = Instant::now();
    let error = dativo_engine::job::Job::from_text(&text, Path::new("bomb.yaml"), harness::job_lookup).unwrap_err();
    let elapsed = started.elapsed();
    eprintln!("alias bomb: {error} ({elapsed:?})");
    assert!(elapsed < Duration::from_secs(5), "alias bomb took {elapsed:?}");
}
