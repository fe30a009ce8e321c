//! Field-level validation results, so a form can show each Japanese message
//! beside the field it concerns.

use std::collections::BTreeMap;

/// Messages keyed by form field name. Empty means the input was valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the first message for a field; later ones for the same field are
    /// dropped because one clear message per field reads better than a list.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    /// Records the error of a parse result, returning the value if it parsed.
    pub fn take<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Trims and checks a required single-line text of at most `max` characters.
pub fn required_text(value: &str, label: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(format!("{label}を入力してください。"));
    }
    optional_text(trimmed, label, max)
}

/// Trims an optional single-line text, refusing control characters and overlong input.
pub fn optional_text(value: &str, label: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.chars().count() > max {
        return Err(format!("{label}は{max}文字以内で入力してください。"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(format!("{label}に使えない文字が含まれています。"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_message_per_field_wins() {
        let mut errors = FieldErrors::new();
        errors.add("name", "一つ目");
        errors.add("name", "二つ目");
        assert_eq!(errors.get("name"), Some("一つ目"));
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn required_text_trims_and_limits() {
        assert_eq!(
            required_text("  町役場 ", "名前", 10),
            Ok("町役場".to_owned())
        );
        assert_eq!(
            required_text("   ", "名前", 10),
            Err("名前を入力してください。".to_owned())
        );
        assert_eq!(
            required_text("あいうえおか", "名前", 5),
            Err("名前は5文字以内で入力してください。".to_owned())
        );
        assert!(required_text("a\u{7}b", "名前", 5).is_err());
    }
}
