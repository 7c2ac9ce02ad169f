//! Open311 GeoReport v2 under `/open311/v2/`: discovery, the service list and service
//! definitions, in XML (the specification's required format) and JSON, with its error format
//! (`<errors><error><code/><description/></error></errors>`, or a JSON array) and statuses (400,
//! 403, 404). Each document is built once as a small tree and written in either format: a
//! collection's root element disappears in JSON, which makes it an array (the "Spark
//! convention" the specification follows).

use crate::AppState;
use app::{Open311Error, Open311Service};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The specification an endpoint follows, as discovery names it.
const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// When the Open311 surface last changed.
const CHANGESET: &str = "2026-11-28T00:00:00+08:00";

/// A value in a document.
#[derive(Debug, Clone)]
pub enum Value {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A nested record (`<name>…</name>` / an object).
    Record(Record),
    /// Repeated items under a wrapper: `<attributes><attribute>…</attribute></attributes>` / an
    /// array of objects.
    List(&'static str, Vec<Record>),
    /// Repeated texts under a wrapper: `<formats><format>…</format></formats>` / an array.
    Texts(&'static str, Vec<String>),
}

/// Named values in order.
pub type Record = Vec<(&'static str, Value)>;

/// A whole response: a collection (its root disappears in JSON) or one record.
#[derive(Debug, Clone)]
pub enum Document {
    Collection {
        root: &'static str,
        item: &'static str,
        items: Vec<Record>,
    },
    Single {
        root: &'static str,
        record: Record,
    },
}

/// `xml` or `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

fn escape(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
}

fn xml_record(record: &Record, out: &mut String) {
    for (name, value) in record {
        xml_value(name, value, out);
    }
}

fn xml_value(name: &str, value: &Value, out: &mut String) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    match value {
        Value::Text(t) => escape(t, out),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&f.to_string()),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Record(r) => xml_record(r, out),
        Value::List(item, records) => {
            for r in records {
                xml_value(item, &Value::Record(r.clone()), out);
            }
        }
        Value::Texts(item, texts) => {
            for t in texts {
                xml_value(item, &Value::Text(t.clone()), out);
            }
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn json_text(s: &str, out: &mut String) {
    out.push_str(&serde_json::Value::String(s.to_owned()).to_string());
}

/// `items` between `open` and `close`, separated by commas, each written by `each`.
fn json_seq<T>(
    items: &[T],
    (open, close): (char, char),
    out: &mut String,
    each: impl Fn(&T, &mut String),
) {
    out.push(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(item, out);
    }
    out.push(close);
}

/// JSON in the record's own field order (as the XML has it).
fn json_record(record: &Record, out: &mut String) {
    json_seq(record, ('{', '}'), out, |(name, value), out| {
        json_text(name, out);
        out.push(':');
        json_value(value, out);
    });
}

fn json_value(value: &Value, out: &mut String) {
    match value {
        Value::Text(t) => json_text(t, out),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&serde_json::Value::from(*f).to_string()),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Record(r) => json_record(r, out),
        Value::List(_, records) => json_records(records, out),
        Value::Texts(_, texts) => json_seq(texts, ('[', ']'), out, |t, out| json_text(t, out)),
    }
}

fn json_records(records: &[Record], out: &mut String) {
    json_seq(records, ('[', ']'), out, json_record);
}

impl Document {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => {
                let mut out = String::new();
                match self {
                    Document::Collection { items, .. } => json_records(items, &mut out),
                    Document::Single { record, .. } => json_record(record, &mut out),
                }
                out
            }
            Format::Xml => {
                let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
                match self {
                    Document::Collection { root, item, items } => {
                        xml_value(root, &Value::List(item, items.clone()), &mut out)
                    }
                    Document::Single { root, record } => {
                        xml_value(root, &Value::Record(record.clone()), &mut out)
                    }
                }
                out
            }
        }
    }
}

fn respond(status: StatusCode, format: Format, doc: &Document) -> Response {
    let content_type = match format {
        Format::Xml => "text/xml; charset=utf-8",
        Format::Json => "application/json; charset=utf-8",
    };
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        doc.render(format),
    )
        .into_response()
}

fn error(format: Format, e: Open311Error) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let doc = Document::Collection {
        root: "errors",
        item: "error",
        items: vec![vec![
            ("code", Value::Int(i64::from(e.status))),
            ("description", Value::Text(e.description)),
        ]],
    };
    respond(status, format, &doc)
}

/// `services.json` → (`services`, JSON); an unknown format is `None`.
fn split(file: &str) -> Option<(&str, Format)> {
    let (stem, ext) = file.rsplit_once('.')?;
    let format = match ext {
        "xml" => Format::Xml,
        "json" => Format::Json,
        _ => return None,
    };
    Some((stem, format))
}

fn not_found(format: Format, what: &str) -> Response {
    error(
        format,
        Open311Error {
            status: 404,
            description: format!("{what} not found"),
        },
    )
}

/// The query's arguments; an empty value is the same as none, as the specification says.
fn args(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

fn arg<'a>(args: &'a [(String, String)], name: &str) -> Option<&'a str> {
    args.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn service_record(s: Open311Service) -> Record {
    vec![
        ("service_code", Value::Text(s.service_code)),
        ("service_name", Value::Text(s.service_name)),
        ("description", Value::Text(s.description)),
        ("metadata", Value::Bool(s.metadata)),
        ("type", Value::Text(s.kind.to_owned())),
        ("keywords", Value::Text(s.keywords)),
        ("group", Value::Text(s.group)),
    ]
}

/// `discovery.{fmt}`, `services.{fmt}`, `requests.{fmt}`.
async fn top(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
    axum::Extension(ctx): axum::Extension<app::Ctx>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((stem, format)) = split(&file) else {
        return not_found(Format::Xml, &file);
    };
    let args = args(query.as_deref());
    match stem {
        "discovery" => respond(StatusCode::OK, format, &discovery(&headers)),
        "services" => {
            if let Err(e) = state
                .app
                .open311_jurisdiction(arg(&args, "jurisdiction_id"))
                .await
            {
                return error(format, e);
            }
            match state.app.open311_services().await {
                Ok(list) => respond(
                    StatusCode::OK,
                    format,
                    &Document::Collection {
                        root: "services",
                        item: "service",
                        items: list.into_iter().map(service_record).collect(),
                    },
                ),
                Err(e) => error(format, e.into()),
            }
        }
        "requests" => list_requests(&state, &ctx, &args, format).await,
        "servicerequestupdates" => list_updates(&state, &ctx, &args, format).await,
        _ => not_found(format, &file),
    }
}

/// ISO 8601 with its zone (the specification requires one) → milliseconds.
fn instant(args: &[(String, String)], name: &str) -> Result<Option<domain::Millis>, Open311Error> {
    match arg(args, name) {
        None => Ok(None),
        Some(v) => chrono::DateTime::parse_from_rfc3339(v)
            .map(|t| Some(domain::Millis(t.timestamp_millis())))
            .map_err(|_| Open311Error {
                status: 400,
                description: format!(
                    "{name} must be an ISO 8601 date and time with its zone, e.g. 2026-01-01T00:00:00+08:00"
                ),
            }),
    }
}

fn number(args: &[(String, String)], name: &str) -> Result<Option<i64>, Open311Error> {
    match arg(args, name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| Open311Error {
            status: 400,
            description: format!("{name} must be a whole number"),
        }),
    }
}

fn list(args: &[(String, String)], name: &str) -> Vec<String> {
    arg(args, name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The caller: an `api_key` argument if given, else whoever the request came as.
async fn caller(
    state: &AppState,
    ctx: app::Ctx,
    args: &[(String, String)],
) -> Result<app::Ctx, Open311Error> {
    match arg(args, "api_key") {
        Some(key) => state
            .app
            .authenticate_api_key(key, ctx.origin.clone())
            .await
            .map_err(Open311Error::from),
        None => Ok(ctx),
    }
}

/// `GET requests.{fmt}`: newest first; `service_request_id` overrides every other argument.
async fn list_requests(
    state: &AppState,
    ctx: &app::Ctx,
    args: &[(String, String)],
    format: Format,
) -> Response {
    let query = (|| {
        Ok::<_, Open311Error>(app::Open311Query {
            service_request_ids: list(args, "service_request_id"),
            service_codes: list(args, "service_code"),
            start: instant(args, "start_date")?,
            end: instant(args, "end_date")?,
            statuses: list(args, "status"),
            updated_after: instant(args, "updated_after")?,
            updated_before: instant(args, "updated_before")?,
            page: number(args, "page")?,
            page_size: number(args, "page_size")?,
            extensions: extensions(args)?,
        })
    })();
    let result = async {
        let query = query?;
        let ctx = caller(state, ctx.clone(), args).await?;
        let jurisdiction = state
            .app
            .open311_jurisdiction(arg(args, "jurisdiction_id"))
            .await?;
        state
            .app
            .open311_requests(&ctx, &jurisdiction, &query)
            .await
    }
    .await;
    match result {
        Ok(records) => respond(
            StatusCode::OK,
            format,
            &Document::Collection {
                root: "service_requests",
                item: "request",
                items: records.into_iter().map(request_record).collect(),
            },
        ),
        Err(e) => error(format, e),
    }
}

/// `extensions=true` asks for each request's `extended_attributes`.
fn extensions(args: &[(String, String)]) -> Result<bool, Open311Error> {
    match arg(args, "extensions") {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(Open311Error {
            status: 400,
            description: "extensions is true or false".into(),
        }),
    }
}

/// `GET servicerequestupdates.{fmt}` (mySociety's extension): every step of the jurisdiction's
/// requests between `start_date` and `end_date` (90 days at most), oldest first, with `page` and
/// `page_size`.
async fn list_updates(
    state: &AppState,
    ctx: &app::Ctx,
    args: &[(String, String)],
    format: Format,
) -> Response {
    let result = async {
        let query = app::Open311Query {
            start: instant(args, "start_date")?,
            end: instant(args, "end_date")?,
            page: number(args, "page")?,
            page_size: number(args, "page_size")?,
            ..Default::default()
        };
        let ctx = caller(state, ctx.clone(), args).await?;
        let jurisdiction = state
            .app
            .open311_jurisdiction(arg(args, "jurisdiction_id"))
            .await?;
        state.app.open311_updates(&ctx, &jurisdiction, &query).await
    }
    .await;
    match result {
        Ok(updates) => respond(
            StatusCode::OK,
            format,
            &Document::Collection {
                root: "service_request_updates",
                item: "request_update",
                items: updates
                    .into_iter()
                    .map(|u| {
                        vec![
                            ("update_id", Value::Text(u.update_id)),
                            ("service_request_id", Value::Text(u.service_request_id)),
                            ("status", Value::Text(u.status.to_owned())),
                            ("updated_datetime", Value::Text(datetime(u.updated))),
                            ("description", Value::Text(u.description)),
                            ("media_url", Value::Text(String::new())),
                        ]
                    })
                    .collect(),
            },
        ),
        Err(e) => error(format, e),
    }
}

/// `services/{service_code}.{fmt}`: the service's definition, its attributes being the
/// category's extra questions in the order asked.
async fn definition(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((code, format)) = split(&file) else {
        return not_found(Format::Xml, &file);
    };
    let args = args(query.as_deref());
    if let Err(e) = state
        .app
        .open311_jurisdiction(arg(&args, "jurisdiction_id"))
        .await
    {
        return error(format, e);
    }
    match state.app.open311_service(code).await {
        Ok(s) => respond(
            StatusCode::OK,
            format,
            &Document::Single {
                root: "service_definition",
                record: vec![
                    ("service_code", Value::Text(s.service_code)),
                    (
                        "attributes",
                        Value::List(
                            "attribute",
                            s.attributes.iter().enumerate().map(attribute).collect(),
                        ),
                    ),
                ],
            },
        ),
        Err(e) => error(format, e),
    }
}

/// One attribute of a service definition.
fn attribute((i, q): (usize, &app::Question)) -> Record {
    let mut record = vec![
        ("variable", Value::Bool(true)),
        ("code", Value::Text(q.code.clone())),
        ("datatype", Value::Text(q.datatype.clone())),
        ("required", Value::Bool(q.required)),
        ("datatype_description", Value::Text(q.hint.clone())),
        ("order", Value::Int(i as i64 + 1)),
        ("description", Value::Text(q.description.clone())),
    ];
    // Only list questions have values to choose from.
    if !q.values.is_empty() {
        let values = q
            .values
            .iter()
            .map(|v| {
                vec![
                    ("key", Value::Text(v.key.clone())),
                    ("name", Value::Text(v.name.clone())),
                ]
            })
            .collect();
        record.push(("values", Value::List("value", values)));
    }
    record
}

/// Where this server is reached, from the request (behind a proxy, its forwarded scheme).
fn base_url(headers: &HeaderMap) -> String {
    format!("{}/open311/v2", crate::site_url(headers))
}

fn discovery(headers: &HeaderMap) -> Document {
    Document::Single {
        root: "discovery",
        record: vec![
            ("changeset", Value::Text(CHANGESET.to_owned())),
            (
                "contact",
                Value::Text("街道办事处网格管理中心 / the street office's grid centre".to_owned()),
            ),
            (
                "key_service",
                Value::Text(
                    "API 密钥由街道管理员在 Weige 中创建（weige apikey create 或 /api/v1/apikeys） / \
                     API keys are issued by the street admin in Weige"
                        .to_owned(),
                ),
            ),
            (
                "endpoints",
                Value::List(
                    "endpoint",
                    vec![vec![
                        ("specification", Value::Text(SPECIFICATION.to_owned())),
                        ("url", Value::Text(base_url(headers))),
                        ("changeset", Value::Text(CHANGESET.to_owned())),
                        ("type", Value::Text("production".to_owned())),
                        (
                            "formats",
                            Value::Texts(
                                "format",
                                vec!["text/xml".to_owned(), "application/json".to_owned()],
                            ),
                        ),
                    ]],
                ),
            ),
        ],
    }
}

/// `attribute[code]` or `attribute[code][]` → the code; anything else that starts like an
/// attribute is malformed.
fn attribute_code(key: &str) -> Option<Result<&str, ()>> {
    let rest = key.strip_prefix("attribute")?;
    let inner = rest
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix("[]").or(Some(r)))
        .and_then(|r| r.strip_suffix(']'));
    Some(match inner {
        Some(code)
            if !code.is_empty()
                && code.len() <= 64
                && code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) =>
        {
            Ok(code)
        }
        _ => Err(()),
    })
}

/// `POST requests.{fmt}` (form-encoded): a report, with an API key (the `api_key` field, or an
/// `Authorization: Bearer` header), routed and numbered like every other.
async fn post_request(
    State(state): State<AppState>,
    Path(file): Path<String>,
    axum::Extension(ctx): axum::Extension<app::Ctx>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let Some((stem, format)) = split(&file) else {
        return not_found(Format::Xml, &file);
    };
    if stem != "requests" {
        return not_found(format, &file);
    }
    let mut fields = args(query.as_deref());
    fields.extend(
        form_urlencoded::parse(&body)
            .into_owned()
            .filter(|(_, v)| !v.is_empty()),
    );
    let bad = |description: String| {
        error(
            format,
            Open311Error {
                status: 400,
                description,
            },
        )
    };
    let mut post = app::Open311Post::default();
    for (key, value) in &fields {
        match attribute_code(key) {
            Some(Ok(code)) => post.attributes.push((code.to_owned(), value.clone())),
            Some(Err(())) => return bad(format!("malformed attribute key {key:?}")),
            None => {}
        }
    }
    let field = |name: &str| arg(&fields, name).map(str::to_owned);
    post.service_code = field("service_code");
    post.lat = field("lat");
    post.long = field("long");
    post.address_string = field("address_string");
    post.address_id = field("address_id");
    post.description = field("description");
    post.media_url = field("media_url");
    post.first_name = field("first_name");
    post.last_name = field("last_name");
    post.phone = field("phone");
    let ctx = match (arg(&fields, "api_key"), &ctx.actor) {
        (Some(key), _) => match state
            .app
            .authenticate_api_key(key, ctx.origin.clone())
            .await
        {
            Ok(c) => c,
            Err(e) => return error(format, e.into()),
        },
        (None, app::Actor::ApiKey { .. }) => ctx,
        (None, _) => {
            return error(
                format,
                Open311Error {
                    status: 403,
                    description: "api_key is required".into(),
                },
            );
        }
    };
    let jurisdiction = match state
        .app
        .open311_jurisdiction(arg(&fields, "jurisdiction_id"))
        .await
    {
        Ok(j) => j,
        Err(e) => return error(format, e),
    };
    match state.app.open311_post(&ctx, &jurisdiction, &post).await {
        Ok((number, notice)) => respond(
            StatusCode::CREATED,
            format,
            &Document::Collection {
                root: "service_requests",
                item: "request",
                items: vec![vec![
                    ("service_request_id", Value::Text(number)),
                    ("service_notice", Value::Text(notice)),
                ]],
            },
        ),
        Err(e) => error(format, e),
    }
}

/// ISO 8601 with the zone, as the specification wants it: China's time, `+08:00`.
fn datetime(ms: domain::Millis) -> String {
    let Some(zone) = chrono::FixedOffset::east_opt(8 * 3600) else {
        return String::new();
    };
    chrono::DateTime::from_timestamp_millis(ms.0)
        .map(|t| {
            t.with_timezone(&zone)
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default()
}

fn request_record(r: app::Open311Record) -> Record {
    let mut rec: Record = vec![
        ("service_request_id", Value::Text(r.service_request_id)),
        ("status", Value::Text(r.status.to_owned())),
        ("status_notes", Value::Text(r.status_notes)),
        ("service_name", Value::Text(r.service_name)),
        ("service_code", Value::Text(r.service_code)),
    ];
    if let Some(d) = r.description {
        rec.push(("description", Value::Text(d)));
    }
    rec.extend([
        ("agency_responsible", Value::Text(r.agency_responsible)),
        ("requested_datetime", Value::Text(datetime(r.requested))),
        ("updated_datetime", Value::Text(datetime(r.updated))),
        ("expected_datetime", Value::Text(datetime(r.expected))),
        ("address", Value::Text(r.address)),
    ]);
    if let (Some(lat), Some(long)) = (r.lat, r.long) {
        rec.push(("lat", Value::Float(lat)));
        rec.push(("long", Value::Float(long)));
    }
    if let Some(m) = r.media_url {
        rec.push(("media_url", Value::Text(m)));
    }
    if let Some(x) = r.extended {
        let mut ext = vec![
            ("channel", Value::Text(x.channel)),
            ("status_detail", Value::Text(x.status_detail)),
            ("tier", Value::Text(x.tier)),
        ];
        if let Some(p) = x.parent_service_request_id {
            ext.push(("duplicate", Value::Bool(true)));
            ext.push(("parent_service_request_id", Value::Text(p)));
        }
        let notes = x
            .notes
            .into_iter()
            .map(|n| {
                let mut note = vec![
                    ("datetime", Value::Text(datetime(n.datetime))),
                    ("type", Value::Text(n.kind.to_owned())),
                    ("summary", Value::Text(n.summary)),
                ];
                if let Some(d) = n.description {
                    note.push(("description", Value::Text(d)));
                }
                note
            })
            .collect();
        ext.push(("notes", Value::List("note", notes)));
        rec.push(("extended_attributes", Value::Record(ext)));
    }
    rec
}

/// `requests/{service_request_id}.{fmt}`: one request (a case number).
async fn one_request(
    State(state): State<AppState>,
    Path(file): Path<String>,
    axum::Extension(ctx): axum::Extension<app::Ctx>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((number, format)) = split(&file) else {
        return not_found(Format::Xml, &file);
    };
    let args = args(query.as_deref());
    let ctx = match caller(&state, ctx, &args).await {
        Ok(c) => c,
        Err(e) => return error(format, e),
    };
    let jurisdiction = match state
        .app
        .open311_jurisdiction(arg(&args, "jurisdiction_id"))
        .await
    {
        Ok(j) => j,
        Err(e) => return error(format, e),
    };
    let extensions = match extensions(&args) {
        Ok(e) => e,
        Err(e) => return error(format, e),
    };
    match state
        .app
        .open311_request(&ctx, &jurisdiction, number, extensions)
        .await
    {
        Ok(r) => respond(
            StatusCode::OK,
            format,
            &Document::Collection {
                root: "service_requests",
                item: "request",
                items: vec![request_record(r)],
            },
        ),
        Err(e) => error(format, e),
    }
}

/// `tokens/{token}.{fmt}`: every Weige service is `realtime` (a request gets its number at
/// once), so no token is ever handed out and none is found.
async fn token(Path(file): Path<String>) -> Response {
    match split(&file) {
        Some((token, format)) => not_found(format, &format!("token {token}")),
        None => not_found(Format::Xml, &file),
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/{file}", get(top).post(post_request))
        .route("/open311/v2/services/{file}", get(definition))
        .route("/open311/v2/requests/{file}", get(one_request))
        .route("/open311/v2/tokens/{file}", get(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collection_is_an_element_in_xml_and_an_array_in_json() {
        let doc = Document::Collection {
            root: "errors",
            item: "error",
            items: vec![vec![
                ("code", Value::Int(404)),
                ("description", Value::Text("a <b> & 'c'".into())),
            ]],
        };
        assert_eq!(
            doc.render(Format::Xml),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><errors><error><code>404</code>\
             <description>a &lt;b&gt; &amp; &apos;c&apos;</description></error></errors>"
        );
        assert_eq!(
            doc.render(Format::Json),
            r#"[{"code":404,"description":"a <b> & 'c'"}]"#
        );
    }

    #[test]
    fn nested_lists_and_texts() {
        let doc = Document::Single {
            root: "d",
            record: vec![
                ("ok", Value::Bool(true)),
                ("fs", Value::Texts("f", vec!["x".into(), "y".into()])),
                ("as", Value::List("a", Vec::new())),
            ],
        };
        assert_eq!(
            doc.render(Format::Xml),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><d><ok>true</ok><fs><f>x</f><f>y</f></fs><as></as></d>"
        );
        assert_eq!(
            doc.render(Format::Json),
            r#"{"ok":true,"fs":["x","y"],"as":[]}"#
        );
    }

    #[test]
    fn formats_are_xml_or_json() {
        assert_eq!(split("services.xml"), Some(("services", Format::Xml)));
        assert_eq!(
            split("sg.sanitation.json"),
            Some(("sg.sanitation", Format::Json))
        );
        assert_eq!(split("services.csv"), None);
        assert_eq!(split("services"), None);
    }
}
