//! The optimizers on scripted LMs whose right answers are known: the few-shot family
//! (bootstrapping, random search, KNN, ensembles), COPRO, MIPROv2, SIMBA and GEPA.

#[path = "../support/mod.rs"]
mod support;

mod copro;
mod few_shot;
mod finetune;
mod gepa;
mod migrate;
mod mipro;
mod pipeline;
mod provenance;
mod simba;
