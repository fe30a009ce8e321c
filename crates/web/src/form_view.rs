//! A form's items as inputs, shared by the residents' LIFF page and the staff
//! entry page (`templates/_form_items.html`).

use std::collections::BTreeMap;

use hiroba_domain::attributes::{AttributeCatalog, AttributeKey, AttributeValue};
use hiroba_domain::forms::{Answer, Answers, FormItem, Widget, input_values, presentation};

use crate::form::FormData;

/// Extra empty rows offered for a date list (another child), and the least
/// rows shown.
const EXTRA_DATES: usize = 1;
const MIN_DATES: usize = 2;

pub struct ChoiceView {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

pub struct ItemView {
    pub field: String,
    pub label: String,
    pub help: String,
    pub required: bool,
    pub widget: &'static str,
    pub choices: Vec<ChoiceView>,
    pub value: String,
    pub dates: Vec<String>,
}

/// The values each field shows: what was posted (after an error), else the
/// friend's current attributes for attribute items and the latest response
/// for the others (M08).
pub fn prefill(
    items: &[FormItem],
    attributes: &BTreeMap<AttributeKey, AttributeValue>,
    latest: Option<&Answers>,
) -> BTreeMap<String, Vec<String>> {
    items
        .iter()
        .filter_map(|item| {
            let answer = match item.attribute_key() {
                Some(key) => attributes.get(key).cloned().map(Answer::Attribute),
                None => latest.and_then(|l| l.get(&item.key)).cloned(),
            };
            answer.map(|a| (item.field(), input_values(&a)))
        })
        .collect()
}

/// The posted values by field.
pub fn posted(items: &[FormItem], form: &FormData) -> BTreeMap<String, Vec<String>> {
    items
        .iter()
        .map(|i| {
            let field = i.field();
            let values = form.all(&field).into_iter().map(str::to_owned).collect();
            (field, values)
        })
        .collect()
}

pub fn items(
    items: &[FormItem],
    catalog: &AttributeCatalog,
    values: &BTreeMap<String, Vec<String>>,
) -> Vec<ItemView> {
    items
        .iter()
        .filter_map(|item| {
            let (widget, choices) = presentation(item, catalog)?;
            let field = item.field();
            let given: Vec<String> = values.get(&field).cloned().unwrap_or_default();
            let mut dates: Vec<String> = given.iter().filter(|d| !d.is_empty()).cloned().collect();
            if widget == Widget::DateList {
                dates.extend(std::iter::repeat_n(String::new(), EXTRA_DATES));
                while dates.len() < MIN_DATES {
                    dates.push(String::new());
                }
            }
            Some(ItemView {
                label: item.label.clone(),
                help: item.help.clone(),
                required: item.required,
                widget: widget.code(),
                choices: choices
                    .into_iter()
                    .map(|c| ChoiceView {
                        checked: given.contains(&c.value),
                        value: c.value,
                        label: c.label,
                    })
                    .collect(),
                value: given.first().cloned().unwrap_or_default(),
                dates,
                field,
            })
        })
        .collect()
}
