//! Support shared by the integration tests (each test binary uses a part of it).
#![allow(dead_code)]

pub mod alone;
pub mod capitals;
pub mod fixtures;
pub mod instruct;
pub mod server;
