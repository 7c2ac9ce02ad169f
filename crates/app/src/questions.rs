//! A category's extra questions (what Open311 calls a service definition's attributes): asked of
//! whoever reports in that category, checked on every channel, kept with the report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AppError, Result};

/// The kinds of answer, as Open311 names them.
pub const DATATYPES: &[(&str, &str)] = &[
    ("string", "一行文字"),
    ("text", "多行文字"),
    ("number", "数字"),
    ("datetime", "日期时间"),
    ("singlevaluelist", "单选"),
    ("multivaluelist", "多选"),
];

/// At most this many questions per category.
pub const MAX_QUESTIONS: usize = 20;
const MAX_VALUES: usize = 50;
const MAX_STRING: usize = 200;
const MAX_TEXT: usize = 2_000;

/// One choice of a list question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuestionValue {
    /// What is sent and stored, e.g. `lock`.
    pub key: String,
    /// What is shown, e.g. `门禁锁坏`.
    pub name: String,
}

/// One question. Questions are asked in the order of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Question {
    /// Letters, digits and `_`, unique in the category: the Open311 attribute code.
    pub code: String,
    /// One of [`DATATYPES`].
    pub datatype: String,
    #[serde(default)]
    pub required: bool,
    /// The question as asked, e.g. `哪个单元？`.
    pub description: String,
    /// A hint on the form of the answer (Open311 `datatype_description`).
    #[serde(default)]
    pub hint: String,
    /// The choices of a list question.
    #[serde(default)]
    pub values: Vec<QuestionValue>,
}

impl Question {
    fn is_list(&self) -> bool {
        self.datatype.ends_with("valuelist")
    }
}

fn invalid(message: String) -> AppError {
    AppError::invalid("questions", message)
}

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks a category's questions as an admin saved them; trims their texts.
pub fn check_questions(questions: &[Question]) -> Result<Vec<Question>> {
    if questions.len() > MAX_QUESTIONS {
        return Err(invalid(format!(
            "最多 {MAX_QUESTIONS} 个问题 / at most {MAX_QUESTIONS} questions"
        )));
    }
    let mut out: Vec<Question> = Vec::with_capacity(questions.len());
    for (i, q) in questions.iter().enumerate() {
        let n = i + 1;
        let code = q.code.trim();
        if !is_code(code) {
            return Err(invalid(format!(
                "第 {n} 个问题的代码须为 1–40 个字母、数字、_ 或 - / question {n}: the code must be 1–40 letters, digits, _ or -"
            )));
        }
        if out.iter().any(|o| o.code == code) {
            return Err(invalid(format!(
                "问题代码 {code} 重复 / question code {code} is used twice"
            )));
        }
        if !DATATYPES.iter().any(|(d, _)| *d == q.datatype) {
            return Err(invalid(format!(
                "问题 {code}：未知类型 {:?} / question {code}: unknown datatype",
                q.datatype
            )));
        }
        let description = q.description.trim();
        if description.is_empty() || description.chars().count() > MAX_STRING {
            return Err(invalid(format!(
                "问题 {code}：请写出问题，最多 {MAX_STRING} 字 / question {code}: the question text is required, at most {MAX_STRING} characters"
            )));
        }
        let mut values: Vec<QuestionValue> = Vec::new();
        for v in &q.values {
            let key = v.key.trim();
            let name = v.name.trim();
            if !is_code(key) || name.is_empty() || name.chars().count() > 100 {
                return Err(invalid(format!(
                    "问题 {code}：选项须为“代码=名称”，代码为字母、数字、_ 或 - / question {code}: a choice is key=name, the key letters, digits, _ or -"
                )));
            }
            if values.iter().any(|o| o.key == key) {
                return Err(invalid(format!(
                    "问题 {code}：选项 {key} 重复 / question {code}: choice {key} is given twice"
                )));
            }
            values.push(QuestionValue {
                key: key.to_owned(),
                name: name.to_owned(),
            });
        }
        let list = q.datatype.ends_with("valuelist");
        if list && values.is_empty() {
            return Err(invalid(format!(
                "问题 {code}：选择题须有选项 / question {code}: a list question needs choices"
            )));
        }
        if !list && !values.is_empty() {
            return Err(invalid(format!(
                "问题 {code}：只有选择题有选项 / question {code}: only list questions have choices"
            )));
        }
        if values.len() > MAX_VALUES {
            return Err(invalid(format!(
                "问题 {code}：最多 {MAX_VALUES} 个选项 / question {code}: at most {MAX_VALUES} choices"
            )));
        }
        out.push(Question {
            code: code.to_owned(),
            datatype: q.datatype.clone(),
            required: q.required,
            description: description.to_owned(),
            hint: q.hint.trim().chars().take(MAX_STRING).collect(),
            values,
        });
    }
    Ok(out)
}

fn answer_error(code: &str, message: &str) -> AppError {
    AppError::invalid("answers", format!("{code}: {message}"))
}

/// The texts given for one question: a string, a number, or a list of them.
fn texts(code: &str, given: &Value) -> Result<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(answer_error(
            code,
            "须为文字或数字 / must be text or a number",
        )),
    };
    match given {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Null => Ok(Vec::new()),
        v => one(v).map(|s| vec![s]),
    }
}

/// Checks the answers of a report against its category's questions: every required question
/// answered, nothing unknown, each answer of its datatype. Returns what is stored: numbers as
/// numbers, lists as arrays of keys, the rest as text; unanswered questions are left out.
pub fn check_answers(
    questions: &[Question],
    given: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, Value>> {
    if let Some(unknown) = given
        .keys()
        .find(|k| !questions.iter().any(|q| &q.code == *k))
    {
        return Err(answer_error(
            unknown,
            "此类别没有这个问题 / this category asks no such question",
        ));
    }
    let mut out = BTreeMap::new();
    for q in questions {
        let code = q.code.as_str();
        let texts: Vec<String> = match given.get(code) {
            Some(v) => texts(code, v)?
                .into_iter()
                .filter(|t| !t.is_empty())
                .collect(),
            None => Vec::new(),
        };
        if texts.is_empty() {
            if q.required {
                return Err(answer_error(
                    code,
                    &format!("请回答“{}” / an answer is required", q.description),
                ));
            }
            continue;
        }
        if texts.len() > 1 && q.datatype != "multivaluelist" {
            return Err(answer_error(code, "只能有一个答案 / takes one answer only"));
        }
        let first = &texts[0];
        let value = match q.datatype.as_str() {
            "string" | "text" => {
                let max = if q.datatype == "text" {
                    MAX_TEXT
                } else {
                    MAX_STRING
                };
                if first.chars().count() > max {
                    return Err(answer_error(
                        code,
                        &format!("最多 {max} 字 / at most {max} characters"),
                    ));
                }
                Value::String(first.clone())
            }
            "number" => {
                let n = match first.parse::<i64>() {
                    Ok(whole) => serde_json::Number::from(whole),
                    Err(_) => first
                        .parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite())
                        .and_then(serde_json::Number::from_f64)
                        .ok_or_else(|| answer_error(code, "须为数字 / must be a number"))?,
                };
                Value::Number(n)
            }
            "datetime" => {
                let at = chrono::DateTime::parse_from_rfc3339(first).map_err(|_| {
                    answer_error(
                        code,
                        "须为带时区的日期时间，如 2026-05-01T09:30:00+08:00 / must be a date and time with its zone",
                    )
                })?;
                Value::String(at.to_rfc3339())
            }
            _ => {
                let mut keys: Vec<String> = Vec::new();
                for t in &texts {
                    if !q.values.iter().any(|v| &v.key == t) {
                        return Err(answer_error(
                            code,
                            &format!("没有选项 {t} / no such choice"),
                        ));
                    }
                    if !keys.contains(t) {
                        keys.push(t.clone());
                    }
                }
                if q.datatype == "singlevaluelist" {
                    Value::String(keys.remove(0))
                } else {
                    Value::Array(keys.into_iter().map(Value::String).collect())
                }
            }
        };
        out.insert(code.to_owned(), value);
    }
    Ok(out)
}

/// The answers of a report for people to read: (question, answer) in the question order;
/// choices by their names. Answers to questions since removed are shown by their code.
pub fn answers_for_people(
    questions: &[Question],
    answers: &serde_json::Map<String, Value>,
) -> Vec<(String, String)> {
    let show = |q: Option<&Question>, v: &Value| -> String {
        let name = |key: &str| {
            q.and_then(|q| q.values.iter().find(|c| c.key == key))
                .map_or_else(|| key.to_owned(), |c| c.name.clone())
        };
        match v {
            Value::String(s) if q.is_some_and(Question::is_list) => name(s),
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), name))
                .collect::<Vec<_>>()
                .join("、"),
            other => other.to_string(),
        }
    };
    let mut out: Vec<(String, String)> = questions
        .iter()
        .filter_map(|q| {
            answers
                .get(&q.code)
                .map(|v| (q.description.clone(), show(Some(q), v)))
        })
        .collect();
    out.extend(
        answers
            .iter()
            .filter(|(k, _)| !questions.iter().any(|q| &q.code == *k))
            .map(|(k, v)| (k.clone(), show(None, v))),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(code: &str, datatype: &str, required: bool, values: &[(&str, &str)]) -> Question {
        Question {
            code: code.into(),
            datatype: datatype.into(),
            required,
            description: format!("{code}?"),
            hint: String::new(),
            values: values
                .iter()
                .map(|(k, n)| QuestionValue {
                    key: (*k).into(),
                    name: (*n).into(),
                })
                .collect(),
        }
    }

    fn all() -> Vec<Question> {
        vec![
            q("unit", "string", true, &[]),
            q("detail", "text", false, &[]),
            q("floor", "number", false, &[]),
            q("since", "datetime", false, &[]),
            q(
                "part",
                "singlevaluelist",
                true,
                &[("lock", "门锁"), ("light", "灯")],
            ),
            q(
                "who",
                "multivaluelist",
                false,
                &[("old", "老人"), ("kid", "儿童")],
            ),
        ]
    }

    fn given(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn every_datatype_is_checked_and_normalised() {
        let out = check_answers(
            &all(),
            &given(
                json!({"unit": " 2单元 ", "floor": "3", "since": "2026-05-01T09:30:00+08:00",
                "part": "lock", "who": ["old", "kid", "old"], "detail": ""}),
            ),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            json!({"unit": "2单元", "floor": 3, "since": "2026-05-01T09:30:00+08:00",
                "part": "lock", "who": ["old", "kid"]})
        );
        let one_choice = check_answers(
            &all(),
            &given(json!({"unit": "1", "part": ["light"], "who": "kid"})),
        );
        assert_eq!(
            serde_json::to_value(one_choice.unwrap()).unwrap(),
            json!({"unit": "1", "part": "light", "who": ["kid"]})
        );
    }

    #[test]
    fn bad_answers_are_refused_with_the_question_named() {
        let cases = [
            (json!({"part": "lock"}), "unit"),
            (json!({"unit": "1"}), "part"),
            (json!({"unit": "1", "part": "door"}), "part"),
            (json!({"unit": "1", "part": ["lock", "light"]}), "part"),
            (
                json!({"unit": "1", "part": "lock", "floor": "three"}),
                "floor",
            ),
            (
                json!({"unit": "1", "part": "lock", "since": "2026-05-01"}),
                "since",
            ),
            (
                json!({"unit": "1", "part": "lock", "colour": "red"}),
                "colour",
            ),
            (json!({"unit": ["1", "2"], "part": "lock"}), "unit"),
            (json!({"unit": {"a": 1}, "part": "lock"}), "unit"),
        ];
        for (answers, code) in cases {
            match check_answers(&all(), &given(answers.clone())) {
                Err(AppError::Invalid { field, message }) => {
                    assert_eq!(field, "answers");
                    assert!(
                        message.starts_with(&format!("{code}:")),
                        "{answers}: {message}"
                    );
                }
                other => panic!("{answers}: {other:?}"),
            }
        }
    }

    #[test]
    fn questions_are_checked_when_saved() {
        assert_eq!(check_questions(&all()).unwrap(), all());
        let bad = [
            vec![q("a b", "string", false, &[])],
            vec![q("a", "string", false, &[]), q("a", "number", false, &[])],
            vec![q("a", "colour", false, &[])],
            vec![q("a", "singlevaluelist", false, &[])],
            vec![q("a", "string", false, &[("x", "X")])],
            vec![q("a", "multivaluelist", false, &[("x", "X"), ("x", "Y")])],
            vec![Question {
                description: " ".into(),
                ..q("a", "string", false, &[])
            }],
        ];
        for b in bad {
            assert!(check_questions(&b).is_err(), "{b:?}");
        }
    }

    #[test]
    fn answers_read_with_the_choice_names() {
        let stored = check_answers(
            &all(),
            &given(json!({"unit": "1", "part": "lock", "who": ["old", "kid"]})),
        )
        .unwrap();
        let map: serde_json::Map<String, Value> = stored.into_iter().collect();
        assert_eq!(
            answers_for_people(&all(), &map),
            vec![
                ("unit?".to_owned(), "1".to_owned()),
                ("part?".to_owned(), "门锁".to_owned()),
                ("who?".to_owned(), "老人、儿童".to_owned()),
            ]
        );
    }
}
