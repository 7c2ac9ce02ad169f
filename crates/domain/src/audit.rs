//! The vocabulary of the audit log: security events, append-only, read by the audit admin.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    LoginOk,
    LoginFailed,
    Lockout,
    Logout,
    SessionExpired,
    AccountCreated,
    AccountDisabled,
    AccountEnabled,
    PasswordReset,
    RoleGranted,
    RoleRevoked,
    PermissionDenied,
    ApiKeyCreated,
    ApiKeyRevoked,
    PersonalDataRevealed,
    PersonalDataCorrected,
    PersonalDataErased,
    PersonalDataExported,
    PersonalDataImported,
}

impl AuditAction {
    pub const ALL: [AuditAction; 19] = [
        AuditAction::LoginOk,
        AuditAction::LoginFailed,
        AuditAction::Lockout,
        AuditAction::Logout,
        AuditAction::SessionExpired,
        AuditAction::AccountCreated,
        AuditAction::AccountDisabled,
        AuditAction::AccountEnabled,
        AuditAction::PasswordReset,
        AuditAction::RoleGranted,
        AuditAction::RoleRevoked,
        AuditAction::PermissionDenied,
        AuditAction::ApiKeyCreated,
        AuditAction::ApiKeyRevoked,
        AuditAction::PersonalDataRevealed,
        AuditAction::PersonalDataCorrected,
        AuditAction::PersonalDataErased,
        AuditAction::PersonalDataExported,
        AuditAction::PersonalDataImported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::LoginOk => "login_ok",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::Lockout => "lockout",
            AuditAction::Logout => "logout",
            AuditAction::SessionExpired => "session_expired",
            AuditAction::AccountCreated => "account_created",
            AuditAction::AccountDisabled => "account_disabled",
            AuditAction::AccountEnabled => "account_enabled",
            AuditAction::PasswordReset => "password_reset",
            AuditAction::RoleGranted => "role_granted",
            AuditAction::RoleRevoked => "role_revoked",
            AuditAction::PermissionDenied => "permission_denied",
            AuditAction::ApiKeyCreated => "api_key_created",
            AuditAction::ApiKeyRevoked => "api_key_revoked",
            AuditAction::PersonalDataRevealed => "personal_data_revealed",
            AuditAction::PersonalDataCorrected => "personal_data_corrected",
            AuditAction::PersonalDataErased => "personal_data_erased",
            AuditAction::PersonalDataExported => "personal_data_exported",
            AuditAction::PersonalDataImported => "personal_data_imported",
        }
    }

    pub fn parse(s: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            AuditAction::LoginOk => "登录成功",
            AuditAction::LoginFailed => "登录失败",
            AuditAction::Lockout => "账户锁定",
            AuditAction::Logout => "退出登录",
            AuditAction::SessionExpired => "会话超时",
            AuditAction::AccountCreated => "创建账户",
            AuditAction::AccountDisabled => "停用账户",
            AuditAction::AccountEnabled => "启用账户",
            AuditAction::PasswordReset => "重置密码",
            AuditAction::RoleGranted => "授予角色",
            AuditAction::RoleRevoked => "撤销角色",
            AuditAction::PermissionDenied => "越权拒绝",
            AuditAction::ApiKeyCreated => "创建 API 密钥",
            AuditAction::ApiKeyRevoked => "吊销 API 密钥",
            AuditAction::PersonalDataRevealed => "查看个人敏感信息",
            AuditAction::PersonalDataCorrected => "更正个人信息",
            AuditAction::PersonalDataErased => "删除个人信息",
            AuditAction::PersonalDataExported => "导出个人信息",
            AuditAction::PersonalDataImported => "导入个人信息",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Success, Outcome::Failure, Outcome::Denied]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}
