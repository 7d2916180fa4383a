//! stub
use super::Schema;
pub fn to_json(_s: &Schema) -> serde_json::Value {
    serde_json::Value::Null
}
pub fn render_text(_s: &Schema, _n: &[String], _v: bool) -> String {
    String::new()
}
