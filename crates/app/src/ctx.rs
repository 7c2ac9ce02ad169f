//! The request context: who acts, with which grants, from where.

use domain::Grant;

#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    /// A staff member signed in through a session.
    Account {
        id: i64,
        username: String,
        display_name: String,
    },
    /// An integration using an API key.
    ApiKey { id: i64, name: String },
    /// The command line, run by whoever can open the database.
    Cli,
    /// Nobody signed in.
    Anonymous,
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    pub client_addr: String,
    pub request_id: String,
    pub user_agent: String,
}

#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub grants: Vec<Grant>,
    pub origin: Origin,
    pub session_id: Option<i64>,
    /// The session's CSRF token, checked by `web` on unsafe requests.
    pub csrf_token: Option<String>,
}

impl Ctx {
    pub fn anonymous(origin: Origin) -> Ctx {
        Ctx {
            actor: Actor::Anonymous,
            grants: Vec::new(),
            origin,
            session_id: None,
            csrf_token: None,
        }
    }

    pub fn cli() -> Ctx {
        Ctx {
            actor: Actor::Cli,
            grants: Vec::new(),
            origin: Origin {
                client_addr: "local".into(),
                request_id: "cli".into(),
                user_agent: "weige".into(),
            },
            session_id: None,
            csrf_token: None,
        }
    }

    pub fn account_id(&self) -> Option<i64> {
        match self.actor {
            Actor::Account { id, .. } => Some(id),
            _ => None,
        }
    }

    pub fn actor_name(&self) -> String {
        match &self.actor {
            Actor::Account { username, .. } => username.clone(),
            Actor::ApiKey { name, id } => format!("apikey:{id}:{name}"),
            Actor::Cli => "cli".into(),
            Actor::Anonymous => "anonymous".into(),
        }
    }

    /// The outermost scope the actor holds any grant on, to show by default.
    pub fn home_scope(&self) -> Option<&domain::GridCode> {
        self.grants
            .iter()
            .map(|g| &g.scope)
            .min_by_key(|s| s.as_str().len())
    }
}
