//! The registry: buildings, households, residents, tags. ID numbers and phones are encrypted
//! here, on the way in, with the caller's [`FieldCipher`]; reads return only the masked forms,
//! and [`Tx::resident_secret`] the ciphertext for an audited reveal.

use crate::crypto::{CryptoError, FieldCipher};
use crate::{Result, StoreError, Tx, on};
use domain::{IdNumber, Millis, Phone};

pub const ID_FIELD: &str = "resident.id_number";
pub const PHONE_FIELD: &str = "resident.phone";
pub const LAST4_FIELD: &str = "resident.phone_last4";

impl From<CryptoError> for StoreError {
    fn from(e: CryptoError) -> Self {
        StoreError::Migration(format!("field encryption: {e}"))
    }
}

#[derive(Debug, Clone)]
pub struct NewBuilding<'a> {
    pub micro_grid_id: i64,
    pub scope_code: &'a str,
    pub road: &'a str,
    pub house_number: &'a str,
    pub compound: &'a str,
    pub name: &'a str,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// The outline, a GeoJSON Polygon.
    pub footprint: Option<&'a str>,
    pub now: Millis,
}

#[derive(Debug, Clone)]
pub struct NewResident<'a> {
    pub household_id: i64,
    pub scope_code: &'a str,
    pub name: &'a str,
    pub gender: i64,
    pub birth_date: Option<&'a str>,
    pub relation: &'a str,
    pub residence_type: &'a str,
    pub care_grade: Option<&'a str>,
    pub id_number: Option<&'a IdNumber>,
    pub phone: Option<&'a Phone>,
    pub tags: &'a [&'a str],
    pub now: Millis,
}

/// A resident as lists and pages show them: masked.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidentRow {
    pub id: i64,
    pub household_id: i64,
    pub scope_code: String,
    pub name: String,
    pub gender: i64,
    pub birth_date: Option<String>,
    pub relation: String,
    pub residence_type: String,
    pub care_grade: Option<String>,
    pub id_number_masked: Option<String>,
    pub phone_masked: Option<String>,
    pub address: String,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HouseholdRow {
    pub id: i64,
    pub scope_code: String,
    pub address: String,
    pub members: i64,
}

/// How to find residents inside a scope: by a piece of name or address, or exactly by a full
/// phone number, its last four digits or an ID number (through their keyed hashes).
#[derive(Debug, Clone, Default)]
pub struct ResidentSearch {
    pub text: Option<String>,
    pub phone: Option<Phone>,
    pub phone_last4: Option<String>,
    pub id_number: Option<IdNumber>,
    pub tag: Option<String>,
    pub limit: i64,
}

type ResidentTuple = (
    i64,
    i64,
    String,
    String,
    i64,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

/// The address as people write it: 光华大道88号 和平小区3栋1单元302.
const ADDRESS: &str = "b.road || b.house_number || ' ' || b.compound || b.name || h.unit || h.room";

fn resident_columns() -> String {
    format!(
        "SELECT r.id, r.household_id, r.scope_code, r.name, r.gender, r.birth_date, r.relation, r.residence_type, r.care_grade, \
         r.id_number_masked, r.phone_masked, {ADDRESS} \
         FROM resident r JOIN household h ON h.id = r.household_id JOIN building b ON b.id = h.building_id"
    )
}

fn resident(t: ResidentTuple) -> ResidentRow {
    ResidentRow {
        id: t.0,
        household_id: t.1,
        scope_code: t.2,
        name: t.3,
        gender: t.4,
        birth_date: t.5,
        relation: t.6,
        residence_type: t.7,
        care_grade: t.8,
        id_number_masked: t.9,
        phone_masked: t.10,
        address: t.11,
        tags: Vec::new(),
    }
}

impl Tx {
    pub async fn insert_building(&mut self, b: &NewBuilding<'_>) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(
            "INSERT INTO building (micro_grid_id, scope_code, road, house_number, compound, name, lon, lat, footprint, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id")
            .bind(b.micro_grid_id)
            .bind(b.scope_code)
            .bind(b.road)
            .bind(b.house_number)
            .bind(b.compound)
            .bind(b.name)
            .bind(b.lon)
            .bind(b.lat)
            .bind(b.footprint)
            .bind(b.now.0)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    pub async fn insert_household(
        &mut self,
        building_id: i64,
        scope_code: &str,
        unit: &str,
        room: &str,
        now: Millis,
    ) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(
            "INSERT INTO household (building_id, scope_code, unit, room, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(building_id)
            .bind(scope_code)
            .bind(unit)
            .bind(room)
            .bind(now.0)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    pub async fn insert_resident(
        &mut self,
        r: &NewResident<'_>,
        cipher: &FieldCipher,
    ) -> Result<i64> {
        let id_enc = r
            .id_number
            .map(|n| cipher.encrypt(ID_FIELD, n.as_str()))
            .transpose()?;
        let id_hash = r
            .id_number
            .map(|n| cipher.blind_index(ID_FIELD, n.as_str()));
        let phone_enc = r
            .phone
            .map(|p| cipher.encrypt(PHONE_FIELD, p.as_str()))
            .transpose()?;
        let phone_hash = r.phone.map(|p| cipher.blind_index(PHONE_FIELD, p.as_str()));
        let last4_hash = r.phone.map(|p| cipher.blind_index(LAST4_FIELD, p.last4()));
        let id: i64 = on!(self, c => sqlx::query_scalar(
            "INSERT INTO resident (household_id, scope_code, name, gender, birth_date, relation, residence_type, care_grade, \
             id_number_enc, id_number_hash, id_number_masked, phone_enc, phone_hash, phone_last4_hash, phone_masked, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) RETURNING id")
            .bind(r.household_id)
            .bind(r.scope_code)
            .bind(r.name)
            .bind(r.gender)
            .bind(r.birth_date)
            .bind(r.relation)
            .bind(r.residence_type)
            .bind(r.care_grade)
            .bind(&id_enc)
            .bind(&id_hash)
            .bind(r.id_number.map(IdNumber::masked))
            .bind(&phone_enc)
            .bind(&phone_hash)
            .bind(&last4_hash)
            .bind(r.phone.map(Phone::masked))
            .bind(r.now.0)
            .fetch_one(&mut *c)
            .await?);
        for tag in r.tags {
            on!(self, c => sqlx::query("INSERT INTO resident_tag (resident_id, tag) VALUES ($1, $2)")
                .bind(id)
                .bind(*tag)
                .execute(&mut *c)
                .await?
                .rows_affected());
        }
        Ok(id)
    }

    async fn with_tags(&mut self, mut rows: Vec<ResidentRow>) -> Result<Vec<ResidentRow>> {
        for row in &mut rows {
            let tags: Vec<(String,)> = on!(self, c => sqlx::query_as("SELECT tag FROM resident_tag WHERE resident_id = $1 ORDER BY tag")
                .bind(row.id)
                .fetch_all(&mut *c)
                .await?);
            row.tags = tags.into_iter().map(|t| t.0).collect();
        }
        Ok(rows)
    }

    /// Residents inside the scope `prefix` matching `q`, by name.
    pub async fn search_residents(
        &mut self,
        prefix: &str,
        q: &ResidentSearch,
        cipher: &FieldCipher,
    ) -> Result<Vec<ResidentRow>> {
        let mut sql = format!("{} WHERE r.scope_code LIKE $1 || '%'", resident_columns());
        let mut binds: Vec<String> = vec![prefix.to_owned()];
        // Binds a value and returns its placeholder.
        let mut param = |value: String| {
            binds.push(value);
            format!("${}", binds.len())
        };
        if let Some(t) = q.text.as_deref().filter(|t| !t.is_empty()) {
            let p = param(format!("%{}%", t.replace(['%', '_'], "")));
            sql.push_str(&format!(" AND (r.name LIKE {p} OR ({ADDRESS}) LIKE {p})"));
        }
        if let Some(phone) = &q.phone {
            sql.push_str(&format!(
                " AND r.phone_hash = {}",
                param(cipher.blind_index(PHONE_FIELD, phone.as_str()))
            ));
        }
        if let Some(l4) = &q.phone_last4 {
            sql.push_str(&format!(
                " AND r.phone_last4_hash = {}",
                param(cipher.blind_index(LAST4_FIELD, l4))
            ));
        }
        if let Some(id) = &q.id_number {
            sql.push_str(&format!(
                " AND r.id_number_hash = {}",
                param(cipher.blind_index(ID_FIELD, id.as_str()))
            ));
        }
        if let Some(tag) = &q.tag {
            let p = param(tag.clone());
            sql.push_str(&format!(" AND EXISTS (SELECT 1 FROM resident_tag t WHERE t.resident_id = r.id AND t.tag = {p})"));
        }
        sql.push_str(&format!(
            " ORDER BY r.scope_code, r.household_id, r.id LIMIT {}",
            q.limit.clamp(1, 500)
        ));
        let sql = sqlx::AssertSqlSafe(sql);
        let rows: Vec<ResidentTuple> = on!(self, c => {
            let mut query = sqlx::query_as(sql);
            for b in &binds {
                query = query.bind(b);
            }
            query.fetch_all(&mut *c).await?
        });
        let rows = rows.into_iter().map(resident).collect();
        self.with_tags(rows).await
    }

    pub async fn resident_by_id(&mut self, id: i64) -> Result<Option<ResidentRow>> {
        let sql = sqlx::AssertSqlSafe(format!("{} WHERE r.id = $1", resident_columns()));
        let row: Option<ResidentTuple> =
            on!(self, c => sqlx::query_as(sql).bind(id).fetch_optional(&mut *c).await?);
        Ok(self
            .with_tags(row.into_iter().map(resident).collect())
            .await?
            .pop())
    }

    pub async fn residents_of_household(&mut self, household_id: i64) -> Result<Vec<ResidentRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{} WHERE r.household_id = $1 ORDER BY r.id",
            resident_columns()
        ));
        let rows: Vec<ResidentTuple> =
            on!(self, c => sqlx::query_as(sql).bind(household_id).fetch_all(&mut *c).await?);
        self.with_tags(rows.into_iter().map(resident).collect())
            .await
    }

    pub async fn household_by_id(&mut self, id: i64) -> Result<Option<HouseholdRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT h.id, h.scope_code, {ADDRESS}, (SELECT COUNT(*) FROM resident r WHERE r.household_id = h.id) \
             FROM household h JOIN building b ON b.id = h.building_id WHERE h.id = $1"
        ));
        let row: Option<(i64, String, String, i64)> =
            on!(self, c => sqlx::query_as(sql).bind(id).fetch_optional(&mut *c).await?);
        Ok(row.map(|(id, scope_code, address, members)| HouseholdRow {
            id,
            scope_code,
            address,
            members,
        }))
    }

    /// Households inside the scope `prefix`, in address order, after the household id `after`.
    pub async fn households_in_scope(
        &mut self,
        prefix: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<HouseholdRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT h.id, h.scope_code, {ADDRESS}, (SELECT COUNT(*) FROM resident r WHERE r.household_id = h.id) \
             FROM household h JOIN building b ON b.id = h.building_id WHERE h.scope_code LIKE $1 || '%' AND h.id > $2 \
             ORDER BY h.id LIMIT $3"
        ));
        let rows: Vec<(i64, String, String, i64)> = on!(self, c => sqlx::query_as(sql).bind(prefix).bind(after).bind(limit).fetch_all(&mut *c).await?);
        Ok(rows
            .into_iter()
            .map(|(id, scope_code, address, members)| HouseholdRow {
                id,
                scope_code,
                address,
                members,
            })
            .collect())
    }

    /// How many households each micro-grid inside `prefix` holds: (micro-grid code, count).
    pub async fn household_counts(&mut self, prefix: &str) -> Result<Vec<(String, i64)>> {
        let rows: Vec<(String, i64)> = on!(self, c => sqlx::query_as(
            "SELECT scope_code, COUNT(*) FROM household WHERE scope_code LIKE $1 || '%' GROUP BY scope_code ORDER BY scope_code")
            .bind(prefix)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows)
    }

    /// The stored ciphertext of a resident's ID number or phone, for an audited reveal.
    pub async fn resident_secret(&mut self, id: i64, field: &str) -> Result<Option<Vec<u8>>> {
        let sql = match field {
            ID_FIELD => "SELECT id_number_enc FROM resident WHERE id = $1",
            PHONE_FIELD => "SELECT phone_enc FROM resident WHERE id = $1",
            _ => return Ok(None),
        };
        let v: Option<Option<Vec<u8>>> =
            on!(self, c => sqlx::query_scalar(sql).bind(id).fetch_optional(&mut *c).await?);
        Ok(v.flatten())
    }

    /// Corrects a resident's phone (re-encrypted) or clears it.
    pub async fn set_resident_phone(
        &mut self,
        id: i64,
        phone: Option<&Phone>,
        cipher: &FieldCipher,
        now: Millis,
    ) -> Result<()> {
        let enc = phone
            .map(|p| cipher.encrypt(PHONE_FIELD, p.as_str()))
            .transpose()?;
        on!(self, c => sqlx::query(
            "UPDATE resident SET phone_enc = $2, phone_hash = $3, phone_last4_hash = $4, phone_masked = $5, updated_at = $6 WHERE id = $1")
            .bind(id)
            .bind(&enc)
            .bind(phone.map(|p| cipher.blind_index(PHONE_FIELD, p.as_str())))
            .bind(phone.map(|p| cipher.blind_index(LAST4_FIELD, p.last4())))
            .bind(phone.map(Phone::masked))
            .bind(now.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn set_resident_fields(
        &mut self,
        id: i64,
        name: &str,
        residence_type: &str,
        care_grade: Option<&str>,
        now: Millis,
    ) -> Result<()> {
        on!(self, c => sqlx::query("UPDATE resident SET name = $2, residence_type = $3, care_grade = $4, updated_at = $5 WHERE id = $1")
            .bind(id)
            .bind(name)
            .bind(residence_type)
            .bind(care_grade)
            .bind(now.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Erases a resident: the row and its tags are gone.
    pub async fn delete_resident(&mut self, id: i64) -> Result<bool> {
        let n = on!(self, c => {
            sqlx::query("DELETE FROM resident_tag WHERE resident_id = $1").bind(id).execute(&mut *c).await?;
            sqlx::query("DELETE FROM resident WHERE id = $1").bind(id).execute(&mut *c).await?.rows_affected()
        });
        Ok(n > 0)
    }
}

impl Tx {
    /// Residents inside the scope `prefix` with an id above `after`, in id order (for exports).
    pub async fn residents_in_scope(
        &mut self,
        prefix: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ResidentRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{} WHERE r.scope_code LIKE $1 || '%' AND r.id > $2 ORDER BY r.id LIMIT $3",
            resident_columns()
        ));
        let rows: Vec<ResidentTuple> = on!(self, c => sqlx::query_as(sql).bind(prefix).bind(after).bind(limit).fetch_all(&mut *c).await?);
        self.with_tags(rows.into_iter().map(resident).collect())
            .await
    }

    pub async fn building_by_address(
        &mut self,
        road: &str,
        house_number: &str,
        compound: &str,
        name: &str,
    ) -> Result<Option<(i64, String)>> {
        let row: Option<(i64, String)> = on!(self, c => sqlx::query_as(
            "SELECT id, scope_code FROM building WHERE road = $1 AND house_number = $2 AND compound = $3 AND name = $4")
            .bind(road)
            .bind(house_number)
            .bind(compound)
            .bind(name)
            .fetch_optional(&mut *c)
            .await?);
        Ok(row)
    }

    pub async fn household_by_address(
        &mut self,
        building_id: i64,
        unit: &str,
        room: &str,
    ) -> Result<Option<i64>> {
        let id: Option<i64> = on!(self, c => sqlx::query_scalar("SELECT id FROM household WHERE building_id = $1 AND unit = $2 AND room = $3")
            .bind(building_id)
            .bind(unit)
            .bind(room)
            .fetch_optional(&mut *c)
            .await?);
        Ok(id)
    }

    /// Whether a resident with this ID number is registered already.
    pub async fn id_number_registered(
        &mut self,
        id_number: &IdNumber,
        cipher: &FieldCipher,
    ) -> Result<bool> {
        let n: i64 = on!(self, c => sqlx::query_scalar("SELECT COUNT(*) FROM resident WHERE id_number_hash = $1")
            .bind(cipher.blind_index(ID_FIELD, id_number.as_str()))
            .fetch_one(&mut *c)
            .await?);
        Ok(n > 0)
    }
}

impl Tx {
    /// Buildings whose address contains `text` (spaces ignored): (id, address, micro-grid code).
    pub async fn buildings_matching(
        &mut self,
        text: &str,
        limit: i64,
    ) -> Result<Vec<(i64, String, String)>> {
        let needle = format!("%{}%", text.replace([' ', '%', '_'], ""));
        let rows: Vec<(i64, String, String)> = on!(self, c => sqlx::query_as(
            "SELECT id, road || house_number || ' ' || compound || name, scope_code FROM building \
             WHERE road || house_number || compound || name LIKE $1 ORDER BY scope_code, id LIMIT $2")
            .bind(&needle)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows)
    }
}

/// A building as the building list and the division check see it.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildingRow {
    pub id: i64,
    pub scope_code: String,
    pub road: String,
    pub house_number: String,
    pub compound: String,
    pub name: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub footprint: Option<String>,
    pub households: i64,
}

type BuildingTuple = (
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<f64>,
    Option<f64>,
    Option<String>,
    i64,
);

/// A household as the household list sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct HouseholdAddressRow {
    pub id: i64,
    pub scope_code: String,
    pub road: String,
    pub house_number: String,
    pub compound: String,
    pub building: String,
    pub unit: String,
    pub room: String,
    pub members: i64,
}

impl Tx {
    /// Buildings inside the scope `prefix` with an id above `after`, in id order.
    pub async fn buildings_in_scope(
        &mut self,
        prefix: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<BuildingRow>> {
        let rows: Vec<BuildingTuple> = on!(self, c => sqlx::query_as(
            "SELECT b.id, b.scope_code, b.road, b.house_number, b.compound, b.name, b.lon, b.lat, b.footprint, \
             (SELECT COUNT(*) FROM household h WHERE h.building_id = b.id) \
             FROM building b WHERE b.scope_code LIKE $1 || '%' AND b.id > $2 ORDER BY b.id LIMIT $3")
            .bind(prefix)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows
            .into_iter()
            .map(|t| BuildingRow {
                id: t.0,
                scope_code: t.1,
                road: t.2,
                house_number: t.3,
                compound: t.4,
                name: t.5,
                lon: t.6,
                lat: t.7,
                footprint: t.8,
                households: t.9,
            })
            .collect())
    }

    /// Households inside the scope `prefix` with an id above `after`, in id order, with their
    /// address parts.
    pub async fn household_addresses_in_scope(
        &mut self,
        prefix: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<HouseholdAddressRow>> {
        type T = (
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            i64,
        );
        let rows: Vec<T> = on!(self, c => sqlx::query_as(
            "SELECT h.id, h.scope_code, b.road, b.house_number, b.compound, b.name, h.unit, h.room, \
             (SELECT COUNT(*) FROM resident r WHERE r.household_id = h.id) \
             FROM household h JOIN building b ON b.id = h.building_id \
             WHERE h.scope_code LIKE $1 || '%' AND h.id > $2 ORDER BY h.id LIMIT $3")
            .bind(prefix)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows
            .into_iter()
            .map(|t| HouseholdAddressRow {
                id: t.0,
                scope_code: t.1,
                road: t.2,
                house_number: t.3,
                compound: t.4,
                building: t.5,
                unit: t.6,
                room: t.7,
                members: t.8,
            })
            .collect())
    }

    /// Sets a building's position and outline.
    pub async fn set_building_shape(
        &mut self,
        id: i64,
        lon: Option<f64>,
        lat: Option<f64>,
        footprint: Option<&str>,
    ) -> Result<()> {
        on!(self, c => sqlx::query("UPDATE building SET lon = $2, lat = $3, footprint = $4 WHERE id = $1")
            .bind(id)
            .bind(lon)
            .bind(lat)
            .bind(footprint)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(())
    }
}

impl Tx {
    /// A building by its address as lists print it (`柳城大道8号 和平小区3栋`): (id, scope).
    pub async fn building_by_label(&mut self, label: &str) -> Result<Option<(i64, String)>> {
        let row: Option<(i64, String)> = on!(self, c => sqlx::query_as(
            "SELECT id, scope_code FROM building WHERE road || house_number || ' ' || compound || name = $1")
            .bind(label)
            .fetch_optional(&mut *c)
            .await?);
        Ok(row)
    }
}
