//! The published JSON Schema of the form, generated from the Rust types so
//! the two cannot drift. `docs/forms/notification-v2.schema.json` is checked
//! against this by a test; run the tests with `UPDATE_SCHEMA=1` to rewrite it.
//! It describes both versions the service accepts (`form_version` "1" with one
//! `victim`, "2" with `victims` and `received.utc_offset`); the validation walk
//! says which fields belong to which. `notification-v1.schema.json` is the
//! version 1 contract as published, kept unchanged.

use super::v1::NotificationForm;

/// Path of the committed schema, relative to the workspace root.
pub const SCHEMA_PATH: &str = "docs/forms/notification-v2.schema.json";

/// The schema as pretty-printed JSON with a trailing newline.
pub fn notification_schema() -> Result<String, serde_json::Error> {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<NotificationForm>();
    schema.insert(
        "$id".to_string(),
        serde_json::Value::String(
            "https://icac-ledger.example/forms/notification-v2.schema.json".into(),
        ),
    );
    schema.insert(
        "description".to_string(),
        serde_json::Value::String(
            "Standardized initial notification by a law enforcement unit to the Connecticut ICAC Task Force under C.G.S. 29-7e(c). Contains hashes of evidence only, never material. Version 2 (form_version \"2\") lists `victims` (zero or more, each with `identified_on` when identified) and may state `received.utc_offset`; version 1 (form_version \"1\", one `victim`, no offset) is still accepted and upcast to version 2. `town` of a victim is a restricted field."
                .into(),
        ),
    );
    let mut text = serde_json::to_string_pretty(&schema)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn committed_schema_is_current() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SCHEMA_PATH);
        let generated = notification_schema().unwrap();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is out of date; regenerate with `UPDATE_SCHEMA=1 cargo test -p icac-aggregates committed_schema_is_current`",
            path.display()
        );
    }
}
