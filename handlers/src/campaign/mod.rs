//! Campaigns: the validated model, loading it from TOML + CSV, and looking things up in it.

pub mod load;
mod lookup;
pub mod model;

pub use load::{load_campaign, LoadError, Problem};
pub use lookup::{TrackMatch, UnionMatch};
pub use model::*;
