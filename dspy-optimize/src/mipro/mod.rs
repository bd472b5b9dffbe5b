//! MIPROv2.
#![allow(dead_code)]
mod tpe;
