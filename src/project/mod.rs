//! The project stage: what calls in one file name in another, for the whole
//! project root.

pub mod rust;
