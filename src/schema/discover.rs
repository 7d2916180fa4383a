//! stub
use super::Schema;
use crate::diagnostic::RunError;
use std::path::Path;
#[derive(Debug, Default)]
pub struct SchemaDiscovery {
    pub schema: Schema,
    pub errors: Vec<RunError>,
    pub notes: Vec<String>,
}
pub fn discover(_root: &Path) -> SchemaDiscovery {
    SchemaDiscovery::default()
}
