//! Evaluation reports compared and shown: `Comparer`, `Comparison` and the HTML pages, on TREC
//! questions with a scripted classifier.

mod compare;
mod pages;
mod trec;
