//! Where results leave assay: files written so that a crash never leaves
//! half of one.

mod atomic;

pub use atomic::write_atomic;
