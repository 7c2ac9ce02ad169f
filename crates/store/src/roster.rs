//! The roster (who serves which node of the grid) and the key-population tag list.

use crate::{Result, Tx, on};
use domain::Millis;

#[derive(Debug, Clone)]
pub struct NewStaff<'a> {
    pub node_id: i64,
    pub scope_code: &'a str,
    pub duty: &'a str,
    pub name: &'a str,
    pub phone: Option<&'a str>,
    pub party_member: bool,
    pub since: Option<&'a str>,
    pub training: &'a str,
    pub building_id: Option<i64>,
    pub account_id: Option<i64>,
    pub now: Millis,
}

/// A member of the roster, with the node they serve and, when set, their building and account.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffRow {
    pub id: i64,
    pub node_code: String,
    pub node_name: String,
    pub duty: String,
    pub name: String,
    pub phone: Option<String>,
    pub party_member: bool,
    pub since: Option<String>,
    pub training: String,
    pub building: Option<String>,
    pub username: Option<String>,
}

type StaffTuple = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

const STAFF_COLUMNS: &str = "SELECT s.id, g.code, g.name, s.duty, s.name, s.phone, s.party_member, s.since, s.training, \
     b.road || b.house_number || ' ' || b.compound || b.name, a.username \
     FROM staff_member s JOIN grid_node g ON g.id = s.node_id \
     LEFT JOIN building b ON b.id = s.building_id LEFT JOIN account a ON a.id = s.account_id";

fn staff(t: StaffTuple) -> StaffRow {
    StaffRow {
        id: t.0,
        node_code: t.1,
        node_name: t.2,
        duty: t.3,
        name: t.4,
        phone: t.5,
        party_member: t.6,
        since: t.7,
        training: t.8,
        building: t.9,
        username: t.10,
    }
}

/// A key-population tag.
#[derive(Debug, Clone, PartialEq)]
pub struct TagRow {
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
    pub sort: i64,
    pub retired: bool,
}

impl Tx {
    pub async fn insert_staff(&mut self, s: &NewStaff<'_>) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(
            "INSERT INTO staff_member (node_id, scope_code, duty, name, phone, party_member, since, training, building_id, account_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id")
            .bind(s.node_id)
            .bind(s.scope_code)
            .bind(s.duty)
            .bind(s.name)
            .bind(s.phone)
            .bind(s.party_member)
            .bind(s.since)
            .bind(s.training)
            .bind(s.building_id)
            .bind(s.account_id)
            .bind(s.now.0)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    /// Replaces what is known of a member (all but the node they serve).
    pub async fn update_staff(&mut self, id: i64, s: &NewStaff<'_>) -> Result<bool> {
        let n = on!(self, c => sqlx::query(
            "UPDATE staff_member SET node_id = $2, scope_code = $3, duty = $4, name = $5, phone = $6, party_member = $7, \
             since = $8, training = $9, building_id = $10, account_id = $11, updated_at = $12 WHERE id = $1")
            .bind(id)
            .bind(s.node_id)
            .bind(s.scope_code)
            .bind(s.duty)
            .bind(s.name)
            .bind(s.phone)
            .bind(s.party_member)
            .bind(s.since)
            .bind(s.training)
            .bind(s.building_id)
            .bind(s.account_id)
            .bind(s.now.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    pub async fn delete_staff(&mut self, id: i64) -> Result<bool> {
        let n = on!(self, c => sqlx::query("DELETE FROM staff_member WHERE id = $1")
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    pub async fn staff_by_id(&mut self, id: i64) -> Result<Option<StaffRow>> {
        let sql = sqlx::AssertSqlSafe(format!("{STAFF_COLUMNS} WHERE s.id = $1"));
        let row: Option<StaffTuple> =
            on!(self, c => sqlx::query_as(sql).bind(id).fetch_optional(&mut *c).await?);
        Ok(row.map(staff))
    }

    /// The member serving `node_id` in `duty` under `name`, if any.
    pub async fn staff_id_by_key(
        &mut self,
        node_id: i64,
        duty: &str,
        name: &str,
    ) -> Result<Option<i64>> {
        let id: Option<i64> = on!(self, c => sqlx::query_scalar(
            "SELECT id FROM staff_member WHERE node_id = $1 AND duty = $2 AND name = $3")
            .bind(node_id)
            .bind(duty)
            .bind(name)
            .fetch_optional(&mut *c)
            .await?);
        Ok(id)
    }

    /// The roster inside the scope `prefix` (the nodes it contains and the node itself), by node
    /// code, duty and name; `after` and `limit` page through it by id order when `by_id`.
    pub async fn staff_in_scope_roster(
        &mut self,
        prefix: &str,
        duty: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StaffRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{STAFF_COLUMNS} WHERE s.scope_code LIKE $1 || '%' AND ($2 IS NULL OR s.duty = $2) AND s.id > $3 \
             ORDER BY s.id LIMIT $4"
        ));
        let rows: Vec<StaffTuple> = on!(self, c => sqlx::query_as(sql)
            .bind(prefix)
            .bind(duty)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows.into_iter().map(staff).collect())
    }

    /// The members serving exactly the node `code`.
    pub async fn staff_of_node(&mut self, code: &str) -> Result<Vec<StaffRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{STAFF_COLUMNS} WHERE g.code = $1 ORDER BY s.duty, s.id"
        ));
        let rows: Vec<StaffTuple> =
            on!(self, c => sqlx::query_as(sql).bind(code).fetch_all(&mut *c).await?);
        Ok(rows.into_iter().map(staff).collect())
    }

    /// The tag list, in its order; retired tags too when `with_retired`.
    pub async fn tags(&mut self, with_retired: bool) -> Result<Vec<TagRow>> {
        let rows: Vec<(String, String, String, i64, bool)> = on!(self, c => sqlx::query_as(
            "SELECT code, label_zh, label_en, sort, retired FROM tag_definition \
             WHERE $1 OR NOT retired ORDER BY sort, code")
            .bind(with_retired)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(code, label_zh, label_en, sort, retired)| TagRow {
                code,
                label_zh,
                label_en,
                sort,
                retired,
            })
            .collect())
    }

    /// Adds a tag, or changes the labels, order or retirement of one.
    pub async fn upsert_tag(&mut self, t: &TagRow, now: Millis) -> Result<()> {
        on!(self, c => sqlx::query(
            "INSERT INTO tag_definition (code, label_zh, label_en, sort, retired, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (code) DO UPDATE SET label_zh = $2, label_en = $3, sort = $4, retired = $5, updated_at = $6")
            .bind(&t.code)
            .bind(&t.label_zh)
            .bind(&t.label_en)
            .bind(t.sort)
            .bind(t.retired)
            .bind(now.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The account of the first member of the roster serving `code` in `duty` who has one.
    pub async fn staff_account(&mut self, code: &str, duty: &str) -> Result<Option<i64>> {
        let id: Option<i64> = on!(self, c => sqlx::query_scalar(
            "SELECT s.account_id FROM staff_member s JOIN grid_node g ON g.id = s.node_id \
             WHERE g.code = $1 AND s.duty = $2 AND s.account_id IS NOT NULL ORDER BY s.id LIMIT 1")
            .bind(code)
            .bind(duty)
            .fetch_optional(&mut *c)
            .await?);
        Ok(id)
    }
}
