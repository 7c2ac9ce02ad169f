//! The registry of households and residents, with privacy by design: every read is inside the
//! caller's scope and masked; a role sees only the fields its duty needs; a full ID number or
//! phone is shown only on an explicit reveal by a role allowed to, and every reveal, correction
//! and erasure is in the audit log (who saw or changed whose which field, when).

use crate::auth::Audit;
use crate::error::parse_scope;
use crate::{App, AppError, Ctx, Result, now};
use domain::{
    AuditAction, CareGrade, GridCode, IdNumber, Outcome, Permission, Phone, ResidenceType, access,
};
use serde::{Deserialize, Serialize};
use store::{FieldCipher, HouseholdRow, ID_FIELD, PHONE_FIELD, ResidentRow, ResidentSearch};

/// A resident as the caller may see them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResidentView {
    pub id: i64,
    pub household_id: i64,
    /// The micro-grid the household belongs to.
    pub micro_grid: String,
    pub name: String,
    /// 1 male, 2 female, 0 unknown.
    pub gender: i64,
    pub birth_date: Option<String>,
    pub relation: String,
    pub residence_type: String,
    pub residence_type_label: &'static str,
    pub care_grade: Option<String>,
    /// Masked (`510115********1234`); absent for roles whose duty does not need it.
    pub id_number: Option<String>,
    /// Masked (`138****5678`).
    pub phone: Option<String>,
    pub address: String,
    pub tags: Vec<String>,
    /// Whether the caller may reveal the full ID number and phone.
    pub can_reveal: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HouseholdView {
    pub id: i64,
    pub micro_grid: String,
    pub address: String,
    pub members: Vec<ResidentView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HouseholdSummary {
    pub id: i64,
    pub micro_grid: String,
    pub address: String,
    pub members: i64,
}

impl From<HouseholdRow> for HouseholdSummary {
    fn from(h: HouseholdRow) -> Self {
        HouseholdSummary {
            id: h.id,
            micro_grid: h.scope_code,
            address: h.address,
            members: h.members,
        }
    }
}

/// A correction of a resident's record; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ResidentPatch {
    pub name: Option<String>,
    /// A new phone number; an empty string removes it.
    pub phone: Option<String>,
    pub residence_type: Option<String>,
    /// `red`, `yellow`, `blue`, or an empty string for none.
    pub care_grade: Option<String>,
}

/// Which sensitive field to reveal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SensitiveField {
    IdNumber,
    Phone,
}

impl App {
    /// Records who read or changed whose personal data, which field, when. The target is the
    /// record's id only: the audit log must not keep what an erasure removed.
    async fn audit_personal(
        &self,
        tx: &mut store::Tx,
        ctx: &Ctx,
        action: AuditAction,
        id: i64,
        row: &ResidentRow,
        detail: &str,
    ) -> Result<()> {
        let target = format!("resident {id}");
        let audit = Audit {
            action,
            target: &target,
            outcome: Outcome::Success,
            scope: Some(&row.scope_code),
            detail,
        };
        self.audit(tx, ctx, None, audit).await
    }

    fn cipher(&self) -> Result<&FieldCipher> {
        self.cipher.as_ref().ok_or_else(|| {
            AppError::Internal(
                "no data key is configured: personal data cannot be read or written".into(),
            )
        })
    }

    fn view(&self, ctx: &Ctx, r: ResidentRow) -> ResidentView {
        let scope = GridCode::parse(&r.scope_code).ok();
        let may = |p| {
            matches!(ctx.actor, crate::Actor::Cli)
                || scope
                    .as_ref()
                    .is_some_and(|s| access::allows(&ctx.grants, p, s))
        };
        let can_reveal = may(Permission::RevealPersonal);
        ResidentView {
            id: r.id,
            household_id: r.household_id,
            micro_grid: r.scope_code,
            name: r.name,
            gender: r.gender,
            birth_date: r.birth_date,
            relation: r.relation,
            residence_type_label: ResidenceType::parse(&r.residence_type)
                .map_or("", ResidenceType::label_zh),
            residence_type: r.residence_type,
            care_grade: r.care_grade,
            // The masked ID is for those who may act on it; a building head does not need it.
            id_number: if can_reveal
                || may(Permission::EditRegistry)
                    && !ctx
                        .grants
                        .iter()
                        .all(|g| g.role == domain::Role::MicroGridWorker)
            {
                r.id_number_masked
            } else {
                None
            },
            phone: r.phone_masked,
            address: r.address,
            tags: r.tags,
            can_reveal,
        }
    }

    /// Residents inside `scope` found by a piece of name or address, a full phone number, the
    /// last 4 digits of a phone, or an ID number.
    pub async fn search_residents(
        &self,
        ctx: &Ctx,
        scope: Option<&str>,
        query: &str,
        tag: Option<&str>,
    ) -> Result<Vec<ResidentView>> {
        let scope = match scope {
            Some(s) => parse_scope("scope", s)?,
            None => crate::default_scope(ctx, Permission::ReadRegistry)?,
        };
        self.require(
            ctx,
            Permission::ReadRegistry,
            &scope,
            &format!("registry of {scope}"),
        )
        .await?;
        let q = query.trim();
        let mut search = ResidentSearch {
            limit: 100,
            tag: tag.filter(|t| !t.is_empty()).map(str::to_owned),
            ..Default::default()
        };
        if q.len() == 4 && q.bytes().all(|b| b.is_ascii_digit()) {
            search.phone_last4 = Some(q.to_owned());
        } else if let Ok(id) = IdNumber::parse(q) {
            search.id_number = Some(id);
        } else if let Ok(p) = Phone::parse(q) {
            search.phone = Some(p);
        } else if q.chars().count() > 64 {
            return Err(AppError::invalid("q", "查询过长 / the query is too long"));
        } else {
            search.text = Some(q.to_owned());
        }
        let cipher = self.cipher()?.clone();
        let mut tx = self.store.read().await?;
        let rows = tx
            .search_residents(scope.as_str(), &search, &cipher)
            .await?;
        Ok(rows.into_iter().map(|r| self.view(ctx, r)).collect())
    }

    /// A resident's record, masked, if it lies inside the caller's scope.
    async fn readable_resident(
        &self,
        ctx: &Ctx,
        id: i64,
        permission: Permission,
    ) -> Result<ResidentRow> {
        let row = {
            let mut tx = self.store.read().await?;
            tx.resident_by_id(id)
                .await?
                .ok_or(AppError::NotFound("resident"))?
        };
        let scope = parse_scope("scope", &row.scope_code)?;
        self.require(ctx, permission, &scope, &format!("resident {id}"))
            .await?;
        Ok(row)
    }

    pub async fn resident(&self, ctx: &Ctx, id: i64) -> Result<ResidentView> {
        let row = self
            .readable_resident(ctx, id, Permission::ReadRegistry)
            .await?;
        Ok(self.view(ctx, row))
    }

    pub async fn household(&self, ctx: &Ctx, id: i64) -> Result<HouseholdView> {
        let (household, members) = {
            let mut tx = self.store.read().await?;
            let h = tx
                .household_by_id(id)
                .await?
                .ok_or(AppError::NotFound("household"))?;
            let members = tx.residents_of_household(id).await?;
            (h, members)
        };
        let scope = parse_scope("scope", &household.scope_code)?;
        self.require(
            ctx,
            Permission::ReadRegistry,
            &scope,
            &format!("household {id}"),
        )
        .await?;
        Ok(HouseholdView {
            id: household.id,
            micro_grid: household.scope_code,
            address: household.address,
            members: members.into_iter().map(|r| self.view(ctx, r)).collect(),
        })
    }

    /// Households inside a scope, 100 at a time after the household id `after`.
    pub async fn households(
        &self,
        ctx: &Ctx,
        scope: &str,
        after: Option<i64>,
    ) -> Result<Vec<HouseholdSummary>> {
        let scope = parse_scope("scope", scope)?;
        self.require(
            ctx,
            Permission::ReadRegistry,
            &scope,
            &format!("households of {scope}"),
        )
        .await?;
        let mut tx = self.store.read().await?;
        Ok(tx
            .households_in_scope(scope.as_str(), after.unwrap_or(0), 100)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The full ID number or phone of a resident; the reveal is written to the audit log first.
    pub async fn reveal(&self, ctx: &Ctx, id: i64, field: SensitiveField) -> Result<String> {
        let row = self
            .readable_resident(ctx, id, Permission::RevealPersonal)
            .await?;
        let column = match field {
            SensitiveField::IdNumber => ID_FIELD,
            SensitiveField::Phone => PHONE_FIELD,
        };
        let cipher = self.cipher()?.clone();
        let mut tx = self.store.write().await?;
        let stored = tx
            .resident_secret(id, column)
            .await?
            .ok_or(AppError::NotFound("field"))?;
        let value = cipher
            .decrypt(column, &stored)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        self.audit_personal(
            &mut tx,
            ctx,
            AuditAction::PersonalDataRevealed,
            id,
            &row,
            column,
        )
        .await?;
        tx.commit().await?;
        Ok(value)
    }

    /// Corrects a resident's record (name, phone, residence type, care grade).
    pub async fn correct_resident(
        &self,
        ctx: &Ctx,
        id: i64,
        patch: &ResidentPatch,
    ) -> Result<ResidentView> {
        let row = self
            .readable_resident(ctx, id, Permission::EditRegistry)
            .await?;
        let name = match patch.name.as_deref().map(str::trim) {
            Some(n) if n.is_empty() || n.chars().count() > 32 => {
                return Err(AppError::invalid(
                    "name",
                    "姓名须为 1 到 32 个字符 / a name has 1 to 32 characters",
                ));
            }
            Some(n) => n.to_owned(),
            None => row.name.clone(),
        };
        let residence_type = match patch.residence_type.as_deref() {
            Some(t) => ResidenceType::parse(t)
                .ok_or_else(|| {
                    AppError::invalid(
                        "residence_type",
                        format!("未知居住类型 / unknown residence type '{t}'"),
                    )
                })?
                .as_str()
                .to_owned(),
            None => row.residence_type.clone(),
        };
        let care_grade = match patch.care_grade.as_deref() {
            Some("") => None,
            Some(g) => Some(
                CareGrade::parse(g)
                    .ok_or_else(|| {
                        AppError::invalid(
                            "care_grade",
                            format!("未知关爱等级 / unknown care grade '{g}'"),
                        )
                    })?
                    .as_str()
                    .to_owned(),
            ),
            None => row.care_grade.clone(),
        };
        let phone = match patch.phone.as_deref() {
            Some("") => Some(None),
            Some(p) => Some(Some(
                Phone::parse(p).map_err(|e| AppError::invalid("phone", e.to_string()))?,
            )),
            None => None,
        };
        let cipher = self.cipher()?.clone();
        let now = now();
        let mut tx = self.store.write().await?;
        tx.set_resident_fields(id, &name, &residence_type, care_grade.as_deref(), now)
            .await?;
        let mut changed = vec![];
        if name != row.name {
            changed.push("name");
        }
        if residence_type != row.residence_type {
            changed.push("residence_type");
        }
        if care_grade != row.care_grade {
            changed.push("care_grade");
        }
        if let Some(p) = &phone {
            tx.set_resident_phone(id, p.as_ref(), &cipher, now).await?;
            changed.push("phone");
        }
        self.audit_personal(
            &mut tx,
            ctx,
            AuditAction::PersonalDataCorrected,
            id,
            &row,
            &changed.join(","),
        )
        .await?;
        let updated = tx
            .resident_by_id(id)
            .await?
            .ok_or(AppError::NotFound("resident"))?;
        tx.commit().await?;
        Ok(self.view(ctx, updated))
    }

    /// Erases a resident's record on request (PIPL art. 47).
    pub async fn erase_resident(&self, ctx: &Ctx, id: i64) -> Result<()> {
        let row = self
            .readable_resident(ctx, id, Permission::EditRegistry)
            .await?;
        let mut tx = self.store.write().await?;
        if !tx.delete_resident(id).await? {
            return Err(AppError::NotFound("resident"));
        }
        self.audit_personal(&mut tx, ctx, AuditAction::PersonalDataErased, id, &row, "")
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
