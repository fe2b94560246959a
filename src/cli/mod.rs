//! Subcommands big enough for their own file; `main.rs` keeps the small ones.

pub mod alerts;
pub mod compare;
pub mod html;
pub mod quality;
pub mod retrain;
pub mod train;
