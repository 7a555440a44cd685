//! Who did something, as audit events (`refund_events.actor`), per-requester limits and logs
//! name them: a role and a user id, the shop's API key, or the service itself. The column
//! holds the text this writes (`customer:1`, `admin:3`, `api_key:2`, `reconciler`, `system`,
//! `cli`); nothing else writes or reads that form.

use crate::model::{CurrentUser, Role};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// a signed-in account: its role and id
    User { role: Role, id: i64 },
    /// the shop's server, by the API key it called with
    ApiKey(i64),
    /// a reconciler pass
    Reconciler,
    /// the service on its own account (a webhook, the sweep, a suspected duplicate)
    System,
    /// an operator at the command line (`portone-refund api-key create`, `admin create`)
    Cli,
}

impl Actor {
    pub fn user(user: &CurrentUser) -> Actor {
        Actor::User { role: user.role, id: user.id }
    }

    /// Reads the stored form back; `None` for text this never writes.
    pub fn parse(stored: &str) -> Option<Actor> {
        match stored {
            "reconciler" => Some(Actor::Reconciler),
            "system" => Some(Actor::System),
            "cli" => Some(Actor::Cli),
            _ => {
                let (kind, id) = stored.split_once(':')?;
                let id = id.parse().ok()?;
                match kind {
                    "api_key" => Some(Actor::ApiKey(id)),
                    role => Some(Actor::User { role: Role::parse(role)?, id }),
                }
            }
        }
    }
}

/// How audit events and limits name a signed-in user.
pub fn actor(user: &CurrentUser) -> String {
    Actor::user(user).to_string()
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::User { role, id } => write!(f, "{}:{id}", role.as_str()),
            Actor::ApiKey(id) => write!(f, "api_key:{id}"),
            Actor::Reconciler => f.write_str("reconciler"),
            Actor::System => f.write_str("system"),
            Actor::Cli => f.write_str("cli"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_actor_reads_back_as_written() {
        let all = [
            Actor::User { role: Role::Customer, id: 1 },
            Actor::User { role: Role::Admin, id: 3 },
            Actor::ApiKey(2),
            Actor::Reconciler,
            Actor::System,
            Actor::Cli,
        ];
        for actor in all {
            assert_eq!(Actor::parse(&actor.to_string()), Some(actor));
        }
        assert_eq!(Actor::User { role: Role::Admin, id: 3 }.to_string(), "admin:3");
        for never in ["", "admin", "admin:x", "root:1", "api_key:"] {
            assert_eq!(Actor::parse(never), None, "{never}");
        }
    }
}
