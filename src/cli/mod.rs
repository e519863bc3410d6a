//! Pieces of the `dativo` command line that are not argument parsing: the stderr logger and the
//! progress display of `dativo run`.

pub mod logger;
pub mod progress;
