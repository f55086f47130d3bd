//! Campaigns: the validated model, loading it from TOML + CSV, and looking things up in it.

mod campaign_file;
pub mod load;
mod lookup;
pub mod model;
mod problems;
mod toml_fields;
mod unions_file;
mod values;

pub use load::{load_campaign, LoadError, Problem};
pub use lookup::{TrackMatch, UnionMatch};
pub use model::*;
pub use values::parse_instant;
