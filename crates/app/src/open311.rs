//! Open311 GeoReport v2, the part that reads what Weige offers: jurisdictions (a district or a
//! street of the grid tree), services (the categories that take cases, grouped by their major
//! class) and service definitions. The HTTP layer renders them as XML and JSON.

use crate::categories::CategoryView;
use crate::{App, AppError, Result};
use domain::{GridCode, Level};

/// One service of the service list: a category that takes cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Open311Service {
    pub service_code: String,
    pub service_name: String,
    pub description: String,
    /// Whether the service definition has attributes to ask for.
    pub metadata: bool,
    /// Always `realtime`: a request gets its number at once.
    pub kind: &'static str,
    pub keywords: String,
    pub group: String,
    /// The category's extra questions: the definition's attributes, in order.
    pub attributes: Vec<crate::Question>,
}

/// What an Open311 request failed on: the HTTP status the specification gives it, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Open311Error {
    pub status: u16,
    pub description: String,
}

impl Open311Error {
    fn new(status: u16, description: impl Into<String>) -> Open311Error {
        Open311Error {
            status,
            description: description.into(),
        }
    }
}

impl From<AppError> for Open311Error {
    fn from(e: AppError) -> Open311Error {
        match e {
            AppError::NotFound(what) => Open311Error::new(404, format!("{what} not found")),
            AppError::Unauthenticated | AppError::Forbidden(_) => {
                Open311Error::new(403, "api_key is missing, unknown or not allowed here")
            }
            // A category's questions are the service's attributes.
            AppError::Invalid {
                field: "answers",
                message,
            } => Open311Error::new(400, format!("attribute {message}")),
            AppError::Invalid { field, message } => {
                Open311Error::new(400, format!("{field}: {message}"))
            }
            e @ (AppError::Store(_) | AppError::Internal(_)) => {
                // The specification's "general service error"; the cause goes to the log only.
                tracing::error!(error = %e, "open311 request failed");
                Open311Error::new(
                    400,
                    "the service cannot take the request now; try again later",
                )
            }
            other => Open311Error::new(400, other.to_string()),
        }
    }
}

fn need_label(need: Option<&str>) -> &'static str {
    crate::NEED_TYPES
        .iter()
        .find(|(k, _)| Some(*k) == need)
        .map_or("", |(_, label)| label)
}

fn service(c: &CategoryView, groups: &[CategoryView]) -> Open311Service {
    let group = c
        .parent
        .as_deref()
        .and_then(|p| groups.iter().find(|g| g.code == p))
        .map(|g| g.name.clone())
        .unwrap_or_default();
    let need = need_label(c.need_type.as_deref());
    let description = match (need.is_empty(), c.closing_conditions.is_empty()) {
        (true, true) => c.name.clone(),
        (false, true) => format!("{}（{need}）", c.name),
        (true, false) => format!("{}。结案条件：{}", c.name, c.closing_conditions),
        (false, false) => format!("{}（{need}）。结案条件：{}", c.name, c.closing_conditions),
    };
    let mut keywords = vec![c.name.clone()];
    if !group.is_empty() {
        keywords.push(group.clone());
    }
    if !need.is_empty() {
        keywords.push(need.to_owned());
    }
    Open311Service {
        service_code: c.code.clone(),
        service_name: c.name.clone(),
        description,
        metadata: !c.questions.is_empty(),
        kind: "realtime",
        keywords: keywords.join(","),
        group,
        attributes: c.questions.clone(),
    }
}

impl App {
    /// The jurisdiction a request names: a district or street of the grid tree. Without one, the
    /// only street there is; a server with several streets needs it named.
    pub async fn open311_jurisdiction(
        &self,
        given: Option<&str>,
    ) -> std::result::Result<GridCode, Open311Error> {
        match given.map(str::trim).filter(|g| !g.is_empty()) {
            Some(code) => {
                let unknown =
                    || Open311Error::new(404, format!("jurisdiction_id {code} not found"));
                let code = GridCode::parse(code).map_err(|_| unknown())?;
                if !matches!(code.level(), Level::District | Level::Street) {
                    return Err(unknown());
                }
                let known = self
                    .store
                    .read_once()
                    .await
                    .map_err(AppError::from)?
                    .grid_node_by_code(code.as_str())
                    .await
                    .map_err(AppError::from)?
                    .is_some();
                if known { Ok(code) } else { Err(unknown()) }
            }
            None => {
                let streets = self.streets().await?;
                match streets.as_slice() {
                    [one] => Ok(one.clone()),
                    _ => Err(Open311Error::new(
                        400,
                        "jurisdiction_id is required: this server serves several streets",
                    )),
                }
            }
        }
    }

    /// Every street of the tree.
    async fn streets(&self) -> Result<Vec<GridCode>> {
        let names = self.store.read_once().await?.grid_node_names().await?;
        Ok(names
            .into_iter()
            .filter(|(code, _)| code.len() == Level::Street.code_len())
            .filter_map(|(code, _)| GridCode::parse(&code).ok())
            .collect())
    }

    /// The service list: every active category that takes cases, in tree order.
    pub async fn open311_services(&self) -> Result<Vec<Open311Service>> {
        let all = self.categories().await?;
        let groups: Vec<CategoryView> = all.iter().filter(|c| c.is_group()).cloned().collect();
        Ok(all
            .iter()
            .filter(|c| c.active && !c.is_group())
            .map(|c| service(c, &groups))
            .collect())
    }

    /// One service, for its definition; 404 when no active category takes cases under `code`.
    pub async fn open311_service(
        &self,
        code: &str,
    ) -> std::result::Result<Open311Service, Open311Error> {
        self.open311_services()
            .await?
            .into_iter()
            .find(|s| s.service_code == code)
            .ok_or_else(|| Open311Error::new(404, format!("service_code {code} not found")))
    }
}

/// A service request as a client posts it (empty fields already dropped).
#[derive(Debug, Clone, Default)]
pub struct Open311Post {
    pub service_code: Option<String>,
    pub lat: Option<String>,
    pub long: Option<String>,
    pub address_string: Option<String>,
    /// Weige's address ids are micro-grid codes (what the QR cards carry).
    pub address_id: Option<String>,
    pub description: Option<String>,
    pub media_url: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// `attribute[code]` and `attribute[code][]` values, by code.
    pub attributes: Vec<(String, String)>,
}

/// A service request as Open311 shows it. Description and address go only to a client whose
/// key may read the case's place: reports name homes and neighbours, and are not public records
/// in China (PIPL); everyone else sees where (the micro-grid) and how far it has come.
#[derive(Debug, Clone, PartialEq)]
pub struct Open311Record {
    pub service_request_id: String,
    /// `open` or `closed`.
    pub status: &'static str,
    pub status_notes: String,
    pub service_name: String,
    pub service_code: String,
    pub description: Option<String>,
    pub agency_responsible: String,
    pub requested: domain::Millis,
    pub updated: domain::Millis,
    pub expected: domain::Millis,
    pub address: String,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub media_url: Option<String>,
    /// With `extensions=true`: the channel, the detailed status and the history.
    pub extended: Option<Open311Extended>,
}

/// The `extended_attributes` of a request (Chicago's and Open311's extension).
#[derive(Debug, Clone, PartialEq)]
pub struct Open311Extended {
    /// How it came in: `resident_page`, `patrol`, `open311`, `wechat`, `hotline` …
    pub channel: String,
    /// Weige's own status, e.g. `dispatched`.
    pub status_detail: String,
    /// The tier that holds it: `micro_grid` … `department`.
    pub tier: String,
    /// The request this one was merged into, if it was.
    pub parent_service_request_id: Option<String>,
    pub notes: Vec<Open311Note>,
}

/// One step of a request's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Open311Note {
    pub datetime: domain::Millis,
    /// `opened`, `activity` or `closed`.
    pub kind: &'static str,
    /// What happened, e.g. `派遣`.
    pub summary: String,
    /// Why, as written; only for a key that may read the place.
    pub description: Option<String>,
}

/// A progress update (mySociety's `servicerequestupdates`).
#[derive(Debug, Clone, PartialEq)]
pub struct Open311Update {
    pub update_id: String,
    pub service_request_id: String,
    /// mySociety's extended status, lower case: `for_triage`, `open`, `in_progress`, `fixed`,
    /// `reopen`, `internal_referral`, `not_councils_responsibility`, `duplicate`, `closed`.
    pub status: &'static str,
    pub updated: domain::Millis,
    pub description: String,
}

/// Weige's status as one of mySociety's extended statuses.
pub fn extended_status(status: domain::case::Status) -> &'static str {
    use domain::case::Status as S;
    match status {
        S::Reported => "for_triage",
        S::Accepted | S::Dispatched => "open",
        S::InProgress | S::ExtensionRequested | S::Parked => "in_progress",
        S::Handled | S::Verifying => "fixed",
        S::Rework => "reopen",
        S::Returned => "internal_referral",
        S::Rejected => "not_councils_responsibility",
        S::Merged => "duplicate",
        S::Closed => "closed",
    }
}

fn parse_coordinate(name: &str, v: &str) -> std::result::Result<f64, Open311Error> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| Open311Error::new(400, format!("{name} is not a number: {v:?}")))
}

impl App {
    /// `POST requests`: a report through Open311, by an API key allowed to report there.
    pub async fn open311_post(
        &self,
        ctx: &crate::Ctx,
        jurisdiction: &GridCode,
        post: &Open311Post,
    ) -> std::result::Result<(String, String), Open311Error> {
        let code = post
            .service_code
            .as_deref()
            .ok_or_else(|| Open311Error::new(400, "service_code is required"))?;
        let service = self.open311_service(code).await?;
        let mut answers = std::collections::BTreeMap::<String, serde_json::Value>::new();
        for (code, value) in &post.attributes {
            let value = serde_json::Value::String(value.clone());
            match answers.get_mut(code) {
                None => {
                    answers.insert(code.clone(), value);
                }
                Some(serde_json::Value::Array(list)) => list.push(value),
                Some(first) => *first = serde_json::Value::Array(vec![first.take(), value]),
            }
        }
        let kinds = [
            post.lat.is_some() || post.long.is_some(),
            post.address_string.is_some(),
            post.address_id.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(Open311Error::new(
                400,
                "give exactly one location: lat and long, address_string, or address_id",
            ));
        }
        let (lon, lat) = match (&post.long, &post.lat) {
            (Some(x), Some(y)) => (
                Some(parse_coordinate("long", x)?),
                Some(parse_coordinate("lat", y)?),
            ),
            (None, None) => (None, None),
            _ => return Err(Open311Error::new(400, "lat and long go together")),
        };
        let name = [post.last_name.as_deref(), post.first_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("");
        let input = crate::CaseInput {
            category: service.service_code.clone(),
            description: post
                .description
                .clone()
                .unwrap_or_else(|| service.service_name.clone()),
            channel: Some("open311".into()),
            micro_grid: post.address_id.clone(),
            lon,
            lat,
            address: post.address_string.clone().unwrap_or_default(),
            reporter_name: Some(name).filter(|n| !n.is_empty()),
            reporter_phone: post.phone.clone(),
            urgent: false,
            media_url: post.media_url.clone(),
            answers,
        };
        // Where it lands must be inside the jurisdiction named.
        let micro = self.route_report(&input, input.address.trim()).await?;
        if !jurisdiction.contains(&micro) {
            return Err(Open311Error::new(
                400,
                format!("the location lies outside jurisdiction {jurisdiction}"),
            ));
        }
        let created = self.report_case(ctx, &input, Vec::new()).await?;
        let notice = format!(
            "已受理，编号 {}，由{}处理 / received as {}",
            created.number, created.micro_grid.name, created.number
        );
        Ok((created.number, notice))
    }

    /// `GET requests/{id}`: one case of the jurisdiction by its number.
    pub async fn open311_request(
        &self,
        ctx: &crate::Ctx,
        jurisdiction: &GridCode,
        number: &str,
        extensions: bool,
    ) -> std::result::Result<Open311Record, Open311Error> {
        let not_found = || Open311Error::new(404, format!("service_request_id {number} not found"));
        let case = self
            .store
            .read_once()
            .await
            .map_err(AppError::from)?
            .case_by_number(number)
            .await
            .map_err(AppError::from)?
            .ok_or_else(not_found)?;
        let scope = GridCode::parse(&case.scope_code).map_err(|_| not_found())?;
        if !jurisdiction.contains(&scope) || case.status == "merged" {
            return Err(not_found());
        }
        self.open311_record(ctx, case, extensions).await
    }

    async fn open311_record(
        &self,
        ctx: &crate::Ctx,
        c: store::CaseRow,
        extensions: bool,
    ) -> std::result::Result<Open311Record, Open311Error> {
        use domain::case::{Status, Tier};
        let categories = self.categories().await?;
        let category = categories.iter().find(|k| k.id == c.category_id);
        let status = Status::parse(&c.status).unwrap_or(Status::Reported);
        let scope =
            GridCode::parse(&c.scope_code).map_err(|e| AppError::Internal(e.to_string()))?;
        let private = domain::access::reads_all_cases(&ctx.grants, &scope);
        let names = self.chain_names(&c.scope_code).await?;
        let micro_name = names.get(&c.scope_code).cloned().unwrap_or_default();
        let events = if private || extensions {
            let mut tx = self.store.read_once().await.map_err(AppError::from)?;
            tx.case_events(c.id).await.map_err(AppError::from)?
        } else {
            Vec::new()
        };
        let media_url = if private {
            events
                .first()
                .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.detail).ok())
                .and_then(|d| d["media_url"].as_str().map(str::to_owned))
        } else {
            None
        };
        let extended = if extensions {
            let parent = match c.merged_into {
                Some(id) => self
                    .store
                    .read_once()
                    .await
                    .map_err(AppError::from)?
                    .case_by_id(id)
                    .await
                    .map_err(AppError::from)?
                    .map(|p| p.number),
                None => None,
            };
            Some(Open311Extended {
                channel: c.channel.clone(),
                status_detail: c.status.clone(),
                tier: c.tier.clone(),
                parent_service_request_id: parent,
                notes: events
                    .iter()
                    .map(|e| Open311Note {
                        datetime: domain::Millis(e.at),
                        kind: if e.from_status.is_none() {
                            "opened"
                        } else if Status::parse(&e.to_status).is_some_and(Status::is_final) {
                            "closed"
                        } else {
                            "activity"
                        },
                        summary: action_label(&e.action),
                        description: (private && !e.reason.is_empty()).then(|| e.reason.clone()),
                    })
                    .collect(),
            })
        } else {
            None
        };
        Ok(Open311Record {
            service_request_id: c.number,
            status: if status.is_final() { "closed" } else { "open" },
            status_notes: status.label_zh().to_owned(),
            service_name: category.map(|k| k.name.clone()).unwrap_or_default(),
            service_code: category.map(|k| k.code.clone()).unwrap_or_default(),
            description: private.then_some(c.description),
            agency_responsible: Tier::parse(&c.tier)
                .map(|t| {
                    let node = crate::cases::tier_node(&c.scope_code, t);
                    let name = names.get(&node).cloned().unwrap_or(node);
                    format!("{name} · {}", t.label_zh())
                })
                .unwrap_or_default(),
            requested: domain::Millis(c.created_at),
            updated: domain::Millis(c.closed_at.unwrap_or(c.updated_at)),
            expected: domain::Millis(c.case_deadline),
            address: if private && !c.address.is_empty() {
                c.address
            } else {
                micro_name
            },
            lat: c.lat,
            long: c.lon,
            media_url,
            extended,
        })
    }

    /// `GET servicerequestupdates` (mySociety's extension): every step of the jurisdiction's
    /// requests in a period, oldest first. The text written with a step goes only to a key that
    /// may read its place; others read what happened.
    pub async fn open311_updates(
        &self,
        ctx: &crate::Ctx,
        jurisdiction: &GridCode,
        q: &Open311Query,
    ) -> std::result::Result<Vec<Open311Update>, Open311Error> {
        use domain::case::Status;
        let (start, end) = span(q)?;
        let (page, page_size) = paging(q)?;
        let rows = self
            .store
            .read_once()
            .await
            .map_err(AppError::from)?
            .case_updates(
                jurisdiction.as_str(),
                start,
                end + 1,
                (page - 1).saturating_mul(page_size),
                page_size,
            )
            .await
            .map_err(AppError::from)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let status = Status::parse(&r.to_status).unwrap_or(Status::Reported);
                let private = GridCode::parse(&r.scope_code)
                    .is_ok_and(|s| domain::access::reads_all_cases(&ctx.grants, &s));
                let what = format!("{}：{}", action_label(&r.action), status.label_zh());
                Open311Update {
                    update_id: r.event_id.to_string(),
                    service_request_id: r.number,
                    status: extended_status(status),
                    updated: domain::Millis(r.at),
                    description: if private && !r.reason.is_empty() {
                        format!("{what}。{}", r.reason)
                    } else {
                        what
                    },
                }
            })
            .collect())
    }
}

/// A history entry's action as people read it.
fn action_label(action: &str) -> String {
    domain::case::Action::parse(action)
        .map_or_else(|| "上报".to_owned(), |a| a.label_zh().to_owned())
}

/// The period a query asks for: `start_date` to `end_date`, at most 90 days, by default the last
/// 90 days.
fn span(q: &Open311Query) -> std::result::Result<(i64, i64), Open311Error> {
    let now = crate::now().0;
    let (start, end) = match (q.start, q.end) {
        (Some(s), Some(e)) => (s.0, e.0),
        (Some(s), None) => (s.0, (s.0 + OPEN311_MAX_SPAN_MS).min(now.max(s.0))),
        (None, Some(e)) => (e.0 - OPEN311_MAX_SPAN_MS, e.0),
        (None, None) => (now - OPEN311_MAX_SPAN_MS, now),
    };
    if end < start {
        return Err(Open311Error::new(400, "end_date is before start_date"));
    }
    if end - start > OPEN311_MAX_SPAN_MS {
        return Err(Open311Error::new(
            400,
            "start_date to end_date may span at most 90 days",
        ));
    }
    Ok((start, end))
}

/// `page` (from 1) and `page_size` (1 to 1000, by default 1000).
fn paging(q: &Open311Query) -> std::result::Result<(i64, i64), Open311Error> {
    let page_size = q.page_size.unwrap_or(OPEN311_MAX_PAGE);
    if !(1..=OPEN311_MAX_PAGE).contains(&page_size) {
        return Err(Open311Error::new(400, "page_size is 1 to 1000"));
    }
    let page = q.page.unwrap_or(1);
    if page < 1 {
        return Err(Open311Error::new(400, "page starts at 1"));
    }
    Ok((page, page_size))
}

/// What `GET requests` asks for (times already read from ISO 8601).
#[derive(Debug, Clone, Default)]
pub struct Open311Query {
    /// Case numbers; when given, every other filter is ignored.
    pub service_request_ids: Vec<String>,
    pub service_codes: Vec<String>,
    pub start: Option<domain::Millis>,
    pub end: Option<domain::Millis>,
    /// `open` and/or `closed`.
    pub statuses: Vec<String>,
    pub updated_after: Option<domain::Millis>,
    pub updated_before: Option<domain::Millis>,
    /// From 1.
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    /// `extensions=true`: each request with its `extended_attributes`.
    pub extensions: bool,
}

/// The specification's longest span of `start_date` to `end_date`, and the default span.
pub const OPEN311_MAX_SPAN_MS: i64 = 90 * 86_400_000;
/// Requests in one answer at most (the specification's default query limit).
pub const OPEN311_MAX_PAGE: i64 = 1_000;

impl App {
    /// `GET requests`: the jurisdiction's requests, newest first.
    pub async fn open311_requests(
        &self,
        ctx: &crate::Ctx,
        jurisdiction: &GridCode,
        q: &Open311Query,
    ) -> std::result::Result<Vec<Open311Record>, Open311Error> {
        use domain::case::Status;
        if !q.service_request_ids.is_empty() {
            let mut out = Vec::new();
            for number in q.service_request_ids.iter().take(OPEN311_MAX_PAGE as usize) {
                match self
                    .open311_request(ctx, jurisdiction, number, q.extensions)
                    .await
                {
                    Ok(r) => out.push(r),
                    Err(e) if e.status == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(out);
        }
        let categories = self.categories().await?;
        let mut category_ids = Vec::new();
        for code in &q.service_codes {
            let c = categories
                .iter()
                .find(|c| &c.code == code && !c.is_group())
                .ok_or_else(|| Open311Error::new(404, format!("service_code {code} not found")))?;
            category_ids.push(c.id);
        }
        let (start, end) = span(q)?;
        let mut statuses: Vec<String> = Vec::new();
        for s in &q.statuses {
            match s.as_str() {
                "open" => statuses.extend(
                    Status::ALL
                        .iter()
                        .filter(|s| !s.is_final())
                        .map(|s| s.as_str().to_owned()),
                ),
                "closed" => statuses
                    .extend([Status::Closed, Status::Rejected].map(|s| s.as_str().to_owned())),
                other => {
                    return Err(Open311Error::new(
                        400,
                        format!("status is open or closed, not {other:?}"),
                    ));
                }
            }
        }
        if statuses.is_empty() {
            // Every state but merged: a merged case lives on in the case it went into.
            statuses = Status::ALL
                .iter()
                .filter(|s| **s != Status::Merged)
                .map(|s| s.as_str().to_owned())
                .collect();
        }
        let (page, page_size) = paging(q)?;
        let rows = self
            .store
            .read()
            .await
            .map_err(AppError::from)?
            .list_cases(&store::CaseFilter {
                scope: jurisdiction.to_string(),
                statuses,
                category_ids,
                created_from: Some(start),
                created_to: Some(end + 1),
                updated_from: q.updated_after.map(|t| t.0 + 1),
                updated_to: q.updated_before.map(|t| t.0),
                offset: (page - 1).saturating_mul(page_size),
                limit: page_size,
                ..Default::default()
            })
            .await
            .map_err(AppError::from)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.open311_record(ctx, row, q.extensions).await?);
        }
        Ok(out)
    }
}
