//! Where results leave assay: files written so that a crash never leaves
//! half of one.

mod atomic;

pub use atomic::{replace_unsynced, sync_parent_dir, write_atomic, write_atomic_with};
