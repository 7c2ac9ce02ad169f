//! Tables in and out: the CSV and XLSX files staff keep their lists in. A file is read into rows
//! of text whichever it is (XLSX is recognised by its bytes, not its name); a table is written as
//! either. The import use cases check the rows; the helpers here say what is wrong and where.

use crate::{AppError, Result};
use serde::Serialize;
use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s {
            "csv" => Some(ExportFormat::Csv),
            "xlsx" => Some(ExportFormat::Xlsx),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }
}

/// One bad row of an import.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// The line in the file (the row in a sheet), counting the header as line 1.
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl RowError {
    pub fn new(line: usize, field: &str, message: impl Into<String>) -> RowError {
        RowError {
            line,
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Tells `progress` how far an import is: every 500 rows and at the end.
pub fn tick(progress: &(dyn Fn(usize, usize) + Sync), done: usize, total: usize) {
    if done.is_multiple_of(500) || done == total {
        progress(done, total);
    }
}

/// The refusal of an import with bad rows: each named by line and field (the first 50).
pub fn rows_refused(bad: &[RowError]) -> AppError {
    let shown: Vec<String> = bad
        .iter()
        .take(50)
        .map(|e| {
            format!(
                "第 {} 行 {}：{} / line {}, {}: {}",
                e.line, e.field, e.message, e.line, e.field, e.message
            )
        })
        .collect();
    let more = if bad.len() > 50 {
        format!("\n… (+{} more)", bad.len() - 50)
    } else {
        String::new()
    };
    AppError::invalid(
        "rows",
        format!(
            "{} 行有误，未导入任何数据 / {} bad rows, nothing imported:\n{}{more}",
            bad.len(),
            bad.len(),
            shown.join("\n")
        ),
    )
}

/// Reads a CSV (UTF-8) or XLSX file into its non-empty rows, the header first. The header must
/// begin with `columns` (more columns after them, such as the counts an export adds, are
/// ignored); short rows are padded with empty fields.
pub fn read_table(bytes: &[u8], columns: &[&str]) -> Result<Vec<Vec<String>>> {
    let mut rows = if bytes.starts_with(b"PK\x03\x04") {
        read_xlsx(bytes)?
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            AppError::invalid(
                "file",
                "文件须为 XLSX 或 UTF-8 编码的 CSV / the file must be XLSX or CSV in UTF-8",
            )
        })?;
        parse_csv(text)
    };
    let Some(header) = rows.first() else {
        return Err(AppError::invalid("file", "文件为空 / the file is empty"));
    };
    if header.len() < columns.len()
        || header[..columns.len()]
            .iter()
            .map(|h| h.trim())
            .ne(columns.iter().copied())
    {
        return Err(AppError::invalid(
            "file",
            format!("表头须为 / the header must be: {}", columns.join(",")),
        ));
    }
    for row in rows.iter_mut() {
        if row.len() < columns.len() {
            row.resize(columns.len(), String::new());
        }
    }
    if rows.len() == 1 {
        return Err(AppError::invalid("file", "没有数据行 / no data rows"));
    }
    Ok(rows)
}

/// Writes a table as CSV (UTF-8 with a BOM, so that Excel reads the Chinese) or XLSX.
pub fn write_table(
    format: ExportFormat,
    sheet_name: &str,
    header: &[&str],
    rows: &[Vec<String>],
) -> Result<Vec<u8>> {
    match format {
        ExportFormat::Csv => {
            let mut out = String::from("\u{feff}");
            out.push_str(
                &header
                    .iter()
                    .map(|h| csv_field(h))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push_str("\r\n");
            for row in rows {
                out.push_str(
                    &row.iter()
                        .map(|f| csv_field(f))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                out.push_str("\r\n");
            }
            Ok(out.into_bytes())
        }
        ExportFormat::Xlsx => {
            let xlsx = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book.add_worksheet();
            sheet.set_name(sheet_name).map_err(xlsx)?;
            let bold = rust_xlsxwriter::Format::new().set_bold();
            for (c, h) in header.iter().enumerate() {
                sheet
                    .write_string_with_format(0, c as u16, *h, &bold)
                    .map_err(xlsx)?;
                // Wide enough for the header and for most values; CJK characters count double.
                let widest = rows
                    .iter()
                    .take(200)
                    .filter_map(|r| r.get(c))
                    .chain(std::iter::once(&h.to_string()))
                    .map(|v| v.chars().map(|ch| if ch.is_ascii() { 1 } else { 2 }).sum())
                    .max()
                    .unwrap_or(8usize);
                sheet
                    .set_column_width(c as u16, (widest.clamp(6, 60) + 2) as f64)
                    .map_err(xlsx)?;
            }
            for (r, row) in rows.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    sheet
                        .write_string(r as u32 + 1, c as u16, v)
                        .map_err(xlsx)?;
                }
            }
            book.save_to_buffer().map_err(xlsx)
        }
    }
}

/// Splits CSV text into records (RFC 4180 quoting; a UTF-8 BOM is ignored; blank rows dropped).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows.retain(|r| r.iter().any(|f| !f.trim().is_empty()));
    rows
}

pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// A part of an XLSX file may not unpack to more than this (a guard against zip bombs).
const XLSX_PART_LIMIT: u64 = 64 << 20;

fn bad_xlsx(what: impl std::fmt::Display) -> AppError {
    AppError::invalid(
        "file",
        format!("不是有效的 XLSX 文件 / not a valid XLSX file: {what}"),
    )
}

/// Reads the first worksheet of an XLSX file as rows of text (the cells' values as stored:
/// shared and inline strings, numbers as written, booleans as TRUE/FALSE). Gaps in a row are
/// empty fields; blank rows are dropped.
pub fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(bad_xlsx)?;
    let mut part = |name: &str| -> Result<Option<String>> {
        let file = match zip.by_name(name) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(bad_xlsx(e)),
        };
        let mut text = String::new();
        file.take(XLSX_PART_LIMIT + 1)
            .read_to_string(&mut text)
            .map_err(bad_xlsx)?;
        if text.len() as u64 > XLSX_PART_LIMIT {
            return Err(bad_xlsx(format!("{name} is larger than 64 MiB")));
        }
        Ok(Some(text))
    };
    let sheet_path = first_sheet_path(
        part("xl/workbook.xml")?,
        part("xl/_rels/workbook.xml.rels")?,
    );
    let shared = match part("xl/sharedStrings.xml")? {
        Some(xml) => shared_strings(&xml)?,
        None => Vec::new(),
    };
    let sheet = part(&sheet_path)?.ok_or_else(|| bad_xlsx(format!("{sheet_path} is missing")))?;
    sheet_rows(&sheet, &shared)
}

/// The path of the workbook's first sheet, through its relationship; `sheet1.xml` when the
/// workbook does not say.
fn first_sheet_path(workbook: Option<String>, rels: Option<String>) -> String {
    let fallback = "xl/worksheets/sheet1.xml".to_owned();
    let (Some(workbook), Some(rels)) = (workbook, rels) else {
        return fallback;
    };
    let Some(rid) = Xml::new(&workbook).find_map(|t| match t {
        Token::Open { name, attrs, .. } if local(name) == "sheet" => attr(attrs, "r:id"),
        _ => None,
    }) else {
        return fallback;
    };
    Xml::new(&rels)
        .find_map(|t| match t {
            Token::Open { name, attrs, .. }
                if local(name) == "Relationship" && attr(attrs, "Id").as_deref() == Some(&rid) =>
            {
                attr(attrs, "Target")
            }
            _ => None,
        })
        .map_or(fallback, |target| match target.strip_prefix('/') {
            Some(abs) => abs.to_owned(),
            None => format!("xl/{target}"),
        })
}

fn shared_strings(xml: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let (mut in_t, mut in_phonetic) = (false, false);
    for token in Xml::new(xml) {
        match token {
            Token::Open { name, closed, .. } => match local(name) {
                "si" if closed => out.push(String::new()),
                "si" => current = Some(String::new()),
                "t" => in_t = !closed,
                "rPh" => in_phonetic = !closed,
                _ => {}
            },
            Token::Close(name) => match local(name) {
                "si" => out.push(current.take().unwrap_or_default()),
                "t" => in_t = false,
                "rPh" => in_phonetic = false,
                _ => {}
            },
            Token::Text(text) if in_t && !in_phonetic => {
                if let Some(s) = current.as_mut() {
                    s.push_str(&unescape(text)?);
                }
            }
            Token::Text(_) => {}
        }
    }
    Ok(out)
}

fn sheet_rows(xml: &str, shared: &[String]) -> Result<Vec<Vec<String>>> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    // The cell being read: its column, its type, its value.
    let mut cell: Option<(usize, String, String)> = None;
    let mut in_value = false;
    for token in Xml::new(xml) {
        match token {
            Token::Open {
                name,
                attrs,
                closed,
            } => match local(name) {
                "row" if closed => {}
                "row" => row = Vec::new(),
                "c" => {
                    let column = match attr(attrs, "r") {
                        Some(r) => column_index(&r).ok_or_else(|| bad_xlsx(format!("cell {r}")))?,
                        None => row.len(),
                    };
                    let kind = attr(attrs, "t").unwrap_or_default();
                    if closed {
                        put(&mut row, column, String::new());
                    } else {
                        cell = Some((column, kind, String::new()));
                    }
                }
                "v" | "t" => in_value = !closed,
                _ => {}
            },
            Token::Close(name) => match local(name) {
                "row" => rows.push(std::mem::take(&mut row)),
                "v" | "t" => in_value = false,
                "c" => {
                    if let Some((column, kind, raw)) = cell.take() {
                        let value = match kind.as_str() {
                            "s" => raw
                                .trim()
                                .parse::<usize>()
                                .ok()
                                .and_then(|i| shared.get(i).cloned())
                                .ok_or_else(|| bad_xlsx(format!("shared string {raw:?}")))?,
                            "b" => (if raw.trim() == "1" { "TRUE" } else { "FALSE" }).to_owned(),
                            _ => raw,
                        };
                        put(&mut row, column, value);
                    }
                }
                _ => {}
            },
            Token::Text(text) if in_value => {
                if let Some((_, _, raw)) = cell.as_mut() {
                    raw.push_str(&unescape(text)?);
                }
            }
            Token::Text(_) => {}
        }
    }
    rows.retain(|r| r.iter().any(|f| !f.trim().is_empty()));
    Ok(rows)
}

fn put(row: &mut Vec<String>, column: usize, value: String) {
    if row.len() <= column {
        row.resize(column + 1, String::new());
    }
    row[column] = value;
}

/// "C7" → 2; "AA1" → 26.
fn column_index(reference: &str) -> Option<usize> {
    let letters: String = reference
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let n = letters.chars().fold(0usize, |n, c| {
        n * 26 + (c.to_ascii_uppercase() as usize - 'A' as usize + 1)
    });
    Some(n - 1)
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// The value of attribute `key` in a tag's attribute text.
fn attr(attrs: &str, key: &str) -> Option<String> {
    let mut rest = attrs;
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next()?;
        if quote != '"' && quote != '\'' {
            return None;
        }
        let end = after[1..].find(quote)? + 1;
        if name == key {
            return unescape(&after[1..end]).ok();
        }
        rest = &after[end + 1..];
    }
    None
}

fn unescape(text: &str) -> Result<String> {
    if !text.contains('&') {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let semi = rest[amp..]
            .find(';')
            .ok_or_else(|| bad_xlsx("an unterminated entity"))?;
        let entity = &rest[amp + 1..amp + semi];
        let ch = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        out.push(ch.ok_or_else(|| bad_xlsx(format!("the entity &{entity};")))?);
        rest = &rest[amp + semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The pieces of an XML text, as far as reading a spreadsheet needs them: tags with their raw
/// attribute text, end tags, and the text between. Declarations, comments and CDATA-free
/// processing instructions are skipped.
enum Token<'a> {
    Open {
        name: &'a str,
        attrs: &'a str,
        closed: bool,
    },
    Close(&'a str),
    Text(&'a str),
}

struct Xml<'a> {
    rest: &'a str,
}

impl<'a> Xml<'a> {
    fn new(text: &'a str) -> Xml<'a> {
        Xml { rest: text }
    }
}

impl<'a> Iterator for Xml<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            if !self.rest.starts_with('<') {
                let end = self.rest.find('<').unwrap_or(self.rest.len());
                let (text, rest) = self.rest.split_at(end);
                self.rest = rest;
                return Some(Token::Text(text));
            }
            if self.rest.starts_with("<!--") {
                let end = self.rest.find("-->").map_or(self.rest.len(), |e| e + 3);
                self.rest = &self.rest[end..];
                continue;
            }
            let end = self.rest.find('>')?;
            let inner = &self.rest[1..end];
            self.rest = &self.rest[end + 1..];
            if inner.starts_with('?') || inner.starts_with('!') {
                continue;
            }
            if let Some(name) = inner.strip_prefix('/') {
                return Some(Token::Close(name.trim()));
            }
            let (inner, closed) = match inner.strip_suffix('/') {
                Some(i) => (i, true),
                None => (inner, false),
            };
            let split = inner.find(char::is_whitespace).unwrap_or(inner.len());
            return Some(Token::Open {
                name: &inner[..split],
                attrs: &inner[split..],
                closed,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_round_trips() {
        let rows = parse_csv("\u{feff}a,\"b,c\",\"d \"\"e\"\"\"\r\n1,2,3\n\n");
        assert_eq!(rows, vec![vec!["a", "b,c", "d \"e\""], vec!["1", "2", "3"]]);
        assert_eq!(csv_field("x,y"), "\"x,y\"");
    }

    #[test]
    fn an_xlsx_we_write_reads_back_as_written() {
        let rows = vec![
            vec!["王 & 李".to_owned(), "<b>".to_owned(), String::new()],
            vec![
                "510115".to_owned(),
                String::new(),
                "末列 \"quoted\"".to_owned(),
            ],
        ];
        let bytes = write_table(ExportFormat::Xlsx, "表", &["甲", "乙", "丙"], &rows).unwrap();
        let back = read_table(&bytes, &["甲", "乙", "丙"]).unwrap();
        assert_eq!(back[0], vec!["甲", "乙", "丙"]);
        assert_eq!(&back[1..], &rows[..]);
    }

    #[test]
    fn a_hand_written_sheet_with_inline_strings_numbers_and_gaps_reads() {
        let xml = r#"<?xml version="1.0"?><worksheet><sheetData>
            <row r="1"><c r="A1" t="inlineStr"><is><t>a&#x4E2D;</t></is></c><c r="C1" t="b"><v>1</v></c></row>
            <row r="2"/>
            <row r="3"><c r="B3"><v>13800138000</v></c><c r="AA3" t="s"><v>1</v></c></row>
        </sheetData></worksheet>"#;
        let shared = vec!["x".to_owned(), "y".to_owned()];
        let rows = sheet_rows(xml, &shared).unwrap();
        assert_eq!(rows[0], vec!["a中", "", "TRUE"]);
        assert_eq!(rows[1].len(), 27);
        assert_eq!(rows[1][1], "13800138000");
        assert_eq!(rows[1][26], "y");
        assert!(sheet_rows(r#"<c r="A1" t="s"><v>9</v></c>"#, &shared).is_err());
    }

    #[test]
    fn shared_strings_join_rich_runs_and_skip_phonetics() {
        let xml = "<sst><si><t>plain</t></si><si><r><t>ri</t></r><r><t xml:space=\"preserve\">ch </t></r><rPh><t>ignored</t></rPh></si><si/></sst>";
        assert_eq!(shared_strings(xml).unwrap(), vec!["plain", "rich ", ""]);
    }

    #[test]
    fn not_a_table_is_refused_with_a_reason() {
        let bad_zip = b"PK\x03\x04garbage";
        assert!(matches!(
            read_table(bad_zip, &["a"]),
            Err(AppError::Invalid { field: "file", .. })
        ));
        assert!(read_table(&[0xff, 0xfe, 0x00], &["a"]).is_err());
        assert!(read_table(b"b\n1\n", &["a"]).is_err());
        assert!(read_table(b"a,extra\n1,2\n", &["a"]).is_ok());
        assert!(read_table(b"a\n", &["a"]).is_err());
        assert_eq!(
            read_table(b"a,b\n1\n", &["a", "b"]).unwrap()[1],
            vec!["1", ""]
        );
    }
}
