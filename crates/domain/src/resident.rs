//! A resident's registration (U01, U04, U05, A19), parsed once at the edge:
//! each problem is a Japanese message at its field.

use crate::validation::{FieldErrors, optional_text, required_text};

/// Full-width digits and hyphens, common on Japanese phones, become ASCII.
fn ascii_digits(input: &str) -> String {
    input
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            'ー' | '－' | '―' | '‐' => '-',
            _ => c,
        })
        .collect()
}

/// An e-mail address in the simple form mail programs accept, folded to lower case.
pub fn parse_email(input: &str) -> Result<String, String> {
    let value = input.trim().to_lowercase();
    if value.is_empty() {
        return Err("メールアドレスを入力してください。".into());
    }
    let valid = value.len() <= 254
        && !value.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        })
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(value)
    } else {
        Err("メールアドレスの形が正しくありません（例: kunitomi@example.jp）。".into())
    }
}

fn parse_phone(input: &str) -> Result<String, String> {
    let value = ascii_digits(input);
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if value.is_empty() {
        return Err("電話番号を入力してください。".into());
    }
    if !value.chars().all(|c| c.is_ascii_digit() || c == '-') || !(10..=11).contains(&digits) {
        return Err("電話番号は市外局番から数字で入力してください（例: 0985-75-3111）。".into());
    }
    Ok(value)
}

fn parse_postal(input: &str) -> Result<String, String> {
    let value = ascii_digits(input).replace('〒', "");
    if value.is_empty() {
        return Ok(value);
    }
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 7 || !value.chars().all(|c| c.is_ascii_digit() || c == '-') {
        return Err("郵便番号は7けたの数字で入力してください（例: 880-1192）。".into());
    }
    Ok(format!("{}-{}", &digits[..3], &digits[3..]))
}

fn parse_kana(input: &str) -> Result<String, String> {
    let value = required_text(input, "ふりがな", 50)?;
    let kana = |c: char| matches!(c, 'ぁ'..='ゖ' | 'ァ'..='ヺ' | 'ー' | '・' | ' ' | '　');
    if value.chars().all(kana) {
        Ok(value)
    } else {
        Err("ふりがなは、ひらがなかカタカナで入力してください。".into())
    }
}

/// The editable part of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub email: String,
    pub name: String,
    pub kana: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub group_name: String,
}

/// Raw form values, by field name.
pub struct ProfileInput<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub kana: &'a str,
    pub postal_code: &'a str,
    pub address: &'a str,
    pub phone: &'a str,
    pub group_name: &'a str,
}

impl Profile {
    pub fn parse(input: &ProfileInput<'_>, errors: &mut FieldErrors) -> Option<Self> {
        let email = errors.take("email", parse_email(input.email));
        let name = errors.take("name", required_text(input.name, "氏名", 50));
        let kana = errors.take("kana", parse_kana(input.kana));
        let postal_code = errors.take("postal_code", parse_postal(input.postal_code));
        let address = errors.take("address", required_text(input.address, "住所", 200));
        let phone = errors.take("phone", parse_phone(input.phone));
        let group_name = errors.take("group_name", optional_text(input.group_name, "団体名", 60));
        Some(Profile {
            email: email?,
            name: name?,
            kana: kana?,
            postal_code: postal_code?,
            address: address?,
            phone: phone?,
            group_name: group_name?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(
        email: &'a str,
        kana: &'a str,
        phone: &'a str,
        postal: &'a str,
    ) -> ProfileInput<'a> {
        ProfileInput {
            email,
            name: "国富 太郎",
            kana,
            postal_code: postal,
            address: "宮崎県東諸県郡国富町本庄4800",
            phone,
            group_name: "",
        }
    }

    #[test]
    fn a_typical_registration_parses_and_normalises() {
        let mut errors = FieldErrors::new();
        let p = Profile::parse(
            &input(
                " Taro@Example.JP ",
                "くにとみ たろう",
                "０９０ー１２３４ー５６７８",
                "8801192",
            ),
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let p = p.unwrap_or_else(|| unreachable!());
        assert_eq!(p.email, "taro@example.jp");
        assert_eq!(p.phone, "090-1234-5678");
        assert_eq!(p.postal_code, "880-1192");
    }

    #[test]
    fn each_bad_field_gets_its_message() {
        let mut errors = FieldErrors::new();
        assert!(Profile::parse(&input("taro@", "Taro", "12", "88"), &mut errors).is_none());
        for field in ["email", "kana", "phone", "postal_code"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
        assert!(parse_email("a b@example.jp").is_err());
        assert!(parse_email("a@example").is_err());
        assert!(parse_email("a@b.jp\r\nBcc: x@y.jp").is_err());
    }
}
