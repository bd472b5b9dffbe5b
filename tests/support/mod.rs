//! Support shared by the integration tests (each test binary uses a part of it).
#![allow(dead_code)]

pub(crate) mod alone;
pub(crate) mod capitals;
pub(crate) mod fixtures;
pub(crate) mod instruct;
pub(crate) mod server;
