//! Staff account values, parsed once at the edge so the rest of the code can
//! trust them (A01, A02).

use std::fmt;

/// A staff login ID: 3-64 characters of ASCII letters, digits, `.`, `_`, `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LoginId(String);

impl LoginId {
    pub fn parse(input: &str) -> Result<Self, String> {
        let value = input.trim();
        if value.is_empty() {
            return Err("ログインIDを入力してください。".into());
        }
        let len = value.chars().count();
        if !(3..=64).contains(&len) {
            return Err("ログインIDは3文字以上64文字以内で入力してください。".into());
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err("ログインIDは半角英数字と . _ - だけで入力してください。".into());
        }
        // IDs compare case-insensitively at login, so store them folded.
        Ok(Self(value.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LoginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The display name of a staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffName(String);

impl StaffName {
    pub fn parse(input: &str) -> Result<Self, String> {
        crate::validation::required_text(input, "氏名", 50).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// A new password that passed the policy: 10-128 characters, not a common or
/// easily guessed password, and not built from the login ID or name.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl fmt::Debug for NewPassword {
    // Never print a password, even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

impl NewPassword {
    pub fn parse(input: &str, context: &[&str]) -> Result<Self, String> {
        let len = input.chars().count();
        if len == 0 {
            return Err("パスワードを入力してください。".into());
        }
        if len < PASSWORD_MIN_CHARS {
            return Err(format!(
                "パスワードは{PASSWORD_MIN_CHARS}文字以上にしてください。"
            ));
        }
        if len > PASSWORD_MAX_CHARS {
            return Err(format!(
                "パスワードは{PASSWORD_MAX_CHARS}文字以内にしてください。"
            ));
        }
        if input.chars().any(char::is_control) {
            return Err("パスワードに使えない文字が含まれています。".into());
        }
        let lowered = input.to_lowercase();
        if context
            .iter()
            .map(|c| c.trim().to_lowercase())
            .any(|c| c.chars().count() >= 3 && lowered.contains(&c))
        {
            return Err("ログインIDや氏名を含まないパスワードにしてください。".into());
        }
        // zxcvbn knows the common-password lists, keyboard walks, repeats and dates.
        let estimate = zxcvbn::zxcvbn(input, context);
        if u8::from(estimate.score()) < 2 {
            return Err(
                "よく使われるパスワードや推測されやすいパスワードは使えません。別のものにしてください。"
                    .into(),
            );
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_id_is_folded_and_checked() {
        assert_eq!(
            LoginId::parse(" Tanaka.K ").map(|l| l.0),
            Ok("tanaka.k".into())
        );
        assert!(LoginId::parse("ab").is_err());
        assert!(LoginId::parse("田中").is_err());
        assert!(LoginId::parse("a b c").is_err());
    }

    #[test]
    fn password_policy_refuses_short_long_common_and_personal() {
        assert!(NewPassword::parse("short", &[]).is_err());
        assert!(NewPassword::parse(&"x9".repeat(65), &[]).is_err());
        for common in [
            "password123",
            "qwertyuiop",
            "1234567890",
            "aaaaaaaaaaaa",
            "iloveyou12",
        ] {
            assert!(
                NewPassword::parse(common, &[]).is_err(),
                "{common} accepted"
            );
        }
        assert!(NewPassword::parse("yamada-kunitomi-7", &["yamada"]).is_err());
        assert!(NewPassword::parse("Kawa-mori 83 tsuki!", &["tanaka"]).is_ok());
    }

    #[test]
    fn password_debug_hides_the_secret() {
        let pw = NewPassword::parse("Kawa-mori 83 tsuki!", &[]).map(|p| format!("{p:?}"));
        assert_eq!(pw, Ok("NewPassword(***)".into()));
    }
}
