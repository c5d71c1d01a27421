//! The A2A protocol generations the server can speak (`--a2a-versions`): apart from the API
//! ([`crate::a2a`]) so the configuration can name them without depending on the API.

/// A protocol generation: its method names, its JSON shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// A2A 1.0: `SendMessage`, proto3-JSON shapes (`ROLE_USER`, `TASK_STATE_*`).
    #[value(name = "1.0")]
    V1,
    /// A2A 0.3 (and 0.2): `message/send`, `kind`-tagged shapes.
    #[value(name = "0.3")]
    V03,
}

impl Dialect {
    /// The version as the card and the SDK's validator write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::V1 => "1.0",
            Dialect::V03 => "0.3",
        }
    }

    pub(crate) fn major(self) -> u64 {
        match self {
            Dialect::V1 => 1,
            Dialect::V03 => 0,
        }
    }
}
