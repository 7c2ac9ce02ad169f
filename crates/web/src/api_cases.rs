//! The API of cases: categories and the working calendar, intake, lists with filters and keyset
//! pages, a case with its history, transitions, photos; and the reporter's follow link.
//! Photos travel as base64 in the JSON (the pages shrink them first).

use crate::AppState;
use crate::api::{ApiResult, Staff};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use app::{
    ActInput, CaseCreated, CaseInput, CaseList, CaseQuery, CaseView, CategoryInput, CategoryView,
    Ctx, Photo, TrackView,
};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// A report with its photos. Read by [`WithPhotos`] (the schema says what `flatten` would).
#[derive(Debug, ToSchema)]
pub struct ReportBody {
    #[serde(flatten)]
    pub case: CaseInput,
    /// JPEG, PNG or WebP, base64 (a `data:` URL prefix is allowed); at most 6 of 5 MB.
    #[serde(default)]
    pub photos: Vec<String>,
}

/// A transition with its photos (the after-photos of `handle`). Read by [`WithPhotos`].
#[derive(Debug, ToSchema)]
pub struct ActBody {
    #[serde(flatten)]
    pub act: ActInput,
    #[serde(default)]
    pub photos: Vec<String>,
}

impl<'de> Deserialize<'de> for ReportBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let WithPhotos(case, photos) = WithPhotos::deserialize(d)?;
        Ok(ReportBody { case, photos })
    }
}

impl<'de> Deserialize<'de> for ActBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let WithPhotos(act, photos) = WithPhotos::deserialize(d)?;
        Ok(ActBody { act, photos })
    }
}

/// An object of `T`'s fields and `photos`, read in one pass: `T` from the other keys as they
/// come, `photos` set aside. What `#[serde(flatten)]` does, without first copying every key and
/// value into a buffer of its own and reading `T` from that (under callgrind a report's body
/// took about 8,000 instructions that way).
struct WithPhotos<T>(T, Vec<String>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for WithPhotos<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Object<T> {
            type Value = WithPhotos<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut photos = None;
                let value =
                    T::deserialize(serde::de::value::MapAccessDeserializer::new(SetAside {
                        map,
                        photos: &mut photos,
                    }))?;
                Ok(WithPhotos(value, photos.unwrap_or_default()))
            }
        }
        d.deserialize_map(Object(std::marker::PhantomData))
    }
}

/// The keys of an object but `photos`, whose value it keeps.
struct SetAside<'p, A> {
    map: A,
    photos: &'p mut Option<Vec<String>>,
}

impl<'de, A: serde::de::MapAccess<'de>> serde::de::MapAccess<'de> for SetAside<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        use serde::de::{Error, IntoDeserializer, value::BorrowedStrDeserializer};
        while let Some(key) = self.map.next_key::<Key<'de>>()? {
            let name = match &key {
                Key::Borrowed(k) => *k,
                Key::Owned(k) => k.as_str(),
            };
            if name != "photos" {
                return match key {
                    Key::Borrowed(k) => seed.deserialize(BorrowedStrDeserializer::new(k)),
                    Key::Owned(k) => seed.deserialize(k.into_deserializer()),
                }
                .map(Some);
            }
            if self.photos.is_some() {
                return Err(A::Error::duplicate_field("photos"));
            }
            *self.photos = Some(self.map.next_value()?);
        }
        Ok(None)
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// A key as the JSON holds it: borrowed from the body unless it had escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl<'de> serde::de::Visitor<'de> for Name {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, k: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(k))
            }
            fn visit_str<E>(self, k: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(k.to_owned()))
            }
            fn visit_string<E>(self, k: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(k))
            }
        }
        d.deserialize_str(Name)
    }
}

pub(crate) fn photos(list: &[String]) -> Result<Vec<Photo>, ApiError> {
    if list.len() > app::MAX_PHOTOS {
        return Err(app::AppError::invalid(
            "photos",
            format!(
                "最多 {} 张照片 / at most {} photos",
                app::MAX_PHOTOS,
                app::MAX_PHOTOS
            ),
        )
        .into());
    }
    list.iter()
        .enumerate()
        .map(|(i, p)| Photo::from_base64(p, i + 1).map_err(ApiError::from))
        .collect()
}

/// Every category, groups included, in tree order; a group takes no cases.
#[utoipa::path(get, path = "/api/v1/categories", tag = "cases",
    responses((status = 200, body = [CategoryView]), (status = 401, body = ErrorBody)))]
pub async fn list_categories(
    State(state): State<AppState>,
    Staff(_): Staff,
) -> ApiResult<Vec<CategoryView>> {
    Ok(Json(state.app.category_list().await?))
}

/// Changes a category: handler, tier, limits, warning share, escalation, conditions (street admin).
#[utoipa::path(put, path = "/api/v1/categories/{code}", tag = "cases", params(("code" = String, Path)), request_body = CategoryInput,
    responses((status = 200, body = CategoryView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn save_category(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(code): ApiPath<String>,
    ApiJson(input): ApiJson<CategoryInput>,
) -> ApiResult<CategoryView> {
    Ok(Json(state.app.save_category(&ctx, &code, &input).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CalendarDayInput {
    /// `holiday`, `workday` (a worked weekend day) or `normal` (as its weekday says).
    pub kind: String,
    #[serde(default)]
    pub note: String,
}

/// Marks a day of the working calendar (street admin): a holiday, a worked weekend day, or normal.
#[utoipa::path(put, path = "/api/v1/calendar/{day}", tag = "cases", params(("day" = String, Path, description = "YYYY-MM-DD")), request_body = CalendarDayInput,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_calendar_day(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(day): ApiPath<String>,
    ApiJson(input): ApiJson<CalendarDayInput>,
) -> Result<StatusCode, ApiError> {
    state
        .app
        .set_calendar_day(&ctx, &day, &input.kind, &input.note)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reports a case (patrol, phone, a system): routed by its pin, micro-grid or address; numbered;
/// its clocks set; its first holder chosen by category and tier.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = ReportBody,
    responses((status = 201, body = CaseCreated), (status = 403, body = ErrorBody), (status = 422, description = "an unknown category, a place outside every grid, a photo that is not an image …", body = ErrorBody)))]
pub async fn report_case(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(body): ApiJson<ReportBody>,
) -> Result<(StatusCode, Json<CaseCreated>), ApiError> {
    let photos = photos(&body.photos)?;
    Ok((
        StatusCode::CREATED,
        Json(state.app.report_case(&ctx, &body.case, photos).await?),
    ))
}

/// Cases inside a scope, newest first, with filters; `next_before` pages on.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(CaseQuery),
    responses((status = 200, body = CaseList), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_cases(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> ApiResult<CaseList> {
    Ok(Json(state.app.cases(&ctx, &q).await?))
}

/// A case with its history, photos, clocks and the actions the caller may take.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = i64, Path)),
    responses((status = 200, body = CaseView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_case(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<CaseView> {
    Ok(Json(state.app.case(&ctx, id).await?))
}

/// Takes a transition. `version` is the case's as the caller saw it: when someone acted first,
/// the answer is 409 and nothing changes.
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions", tag = "cases", params(("id" = i64, Path)), request_body = ActBody,
    responses((status = 200, body = CaseView), (status = 403, body = ErrorBody), (status = 409, description = "an illegal transition, or the case changed meanwhile", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn act(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ActBody>,
) -> ApiResult<CaseView> {
    let photos = photos(&body.photos)?;
    Ok(Json(state.app.act(&ctx, id, &body.act, photos).await?))
}

fn image(mime: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// A photo of a case.
#[utoipa::path(get, path = "/api/v1/cases/{id}/photos/{photo}", tag = "cases", params(("id" = i64, Path), ("photo" = i64, Path)),
    responses((status = 200, description = "the image"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn case_photo(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((id, photo)): ApiPath<(i64, i64)>,
) -> Result<Response, ApiError> {
    let (mime, bytes) = state.app.case_photo(&ctx, id, photo).await?;
    Ok(image(mime, bytes))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct TrackQuery {
    /// The private token of the follow link.
    pub t: Option<String>,
    /// Or the last four digits of the phone given with the report.
    pub last4: Option<String>,
}

/// The reporter follows their case: by the follow link's token or their phone's last four
/// digits. No account needed; a wrong key is 404.
#[utoipa::path(get, path = "/api/v1/track/{number}", tag = "cases", params(("number" = String, Path), TrackQuery), security(()),
    responses((status = 200, body = TrackView), (status = 404, body = ErrorBody)))]
pub async fn track(
    State(state): State<AppState>,
    ApiPath(number): ApiPath<String>,
    ApiQuery(q): ApiQuery<TrackQuery>,
) -> ApiResult<TrackView> {
    Ok(Json(
        state
            .app
            .track(&number, q.t.as_deref(), q.last4.as_deref())
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RateInput {
    /// `satisfied`, `fair` or `unsatisfied`.
    pub satisfaction: String,
    #[serde(default)]
    pub comment: String,
}

/// The reporter verifies and rates: satisfied or fair closes a handled case; unsatisfied sends
/// it back as rework.
#[utoipa::path(post, path = "/api/v1/track/{number}/rating", tag = "cases", params(("number" = String, Path), TrackQuery), request_body = RateInput, security(()),
    responses((status = 200, body = TrackView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rate(
    State(state): State<AppState>,
    ApiPath(number): ApiPath<String>,
    ApiQuery(q): ApiQuery<TrackQuery>,
    ApiJson(input): ApiJson<RateInput>,
) -> ApiResult<TrackView> {
    Ok(Json(
        state
            .app
            .rate_by_reporter(
                &number,
                q.t.as_deref(),
                q.last4.as_deref(),
                &input.satisfaction,
                &input.comment,
            )
            .await?,
    ))
}

/// A photo of a case, for its reporter.
#[utoipa::path(get, path = "/api/v1/track/{number}/photos/{photo}", tag = "cases", params(("number" = String, Path), ("photo" = i64, Path), TrackQuery), security(()),
    responses((status = 200, description = "the image"), (status = 404, body = ErrorBody)))]
pub async fn tracked_photo(
    State(state): State<AppState>,
    ApiPath((number, photo)): ApiPath<(String, i64)>,
    ApiQuery(q): ApiQuery<TrackQuery>,
) -> Result<Response, ApiError> {
    let (mime, bytes) = state
        .app
        .tracked_photo(&number, q.t.as_deref(), q.last4.as_deref(), photo)
        .await?;
    Ok(image(mime, bytes))
}

/// The resident page's report: no account, the channel is the resident page.
pub async fn resident_report(
    state: &AppState,
    ctx: &Ctx,
    body: ReportBody,
) -> Result<CaseCreated, ApiError> {
    let photos = photos(&body.photos)?;
    let mut input = body.case;
    input.channel = Some("resident_page".into());
    let anonymous = Ctx::anonymous(ctx.origin.clone());
    Ok(state.app.report_case(&anonymous, &input, photos).await?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The photos wherever they stand among the fields, the fields as `CaseInput` reads them;
    /// a key with escapes is still its name; errors name their field.
    #[test]
    fn a_reports_body_is_read_with_its_photos_in_one_pass() {
        let body: ReportBody = serde_json::from_str(
            r#"{"photos": ["aGk=", "aG8="], "category": "sg.sanitation",
                "descr\u0069ption": "垃圾", "lon": 104.1, "lat": 30.6, "answers": {"q": 1}}"#,
        )
        .unwrap();
        assert_eq!(body.photos, ["aGk=", "aG8="]);
        assert_eq!(body.case.category, "sg.sanitation");
        assert_eq!(body.case.description, "垃圾");
        assert_eq!((body.case.lon, body.case.lat), (Some(104.1), Some(30.6)));
        assert_eq!(body.case.answers["q"], serde_json::json!(1));

        let none: ReportBody =
            serde_json::from_str(r#"{"category": "a", "description": "b"}"#).unwrap();
        assert!(none.photos.is_empty());
        assert_eq!(none.case.micro_grid, None);

        let act: ActBody =
            serde_json::from_str(r#"{"action": "handle", "photos": ["aGk="], "version": 3}"#)
                .unwrap();
        assert_eq!((act.act.action.as_str(), act.act.version), ("handle", 3));
        assert_eq!(act.photos, ["aGk="]);

        for (json, says) in [
            (r#"{"category": "a"}"#, "missing field `description`"),
            (r#"{"category": "a", "description": 5}"#, "invalid type"),
            (
                r#"{"category": "a", "description": "b", "photos": "x"}"#,
                "invalid type",
            ),
            (
                r#"{"category": "a", "description": "b", "photos": [], "photos": []}"#,
                "duplicate field `photos`",
            ),
            (r#"["a", "b"]"#, "expected an object"),
        ] {
            let err = serde_json::from_str::<ReportBody>(json).unwrap_err();
            assert!(err.to_string().contains(says), "{json}: {err}");
        }
    }
}
