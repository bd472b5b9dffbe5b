// Every accepted attribute form, with no serde derive of the user's own (so the derive must
// accept `#[serde(..)]` itself), in a crate that denies warnings.
#![deny(warnings)]

use dspy::prelude::*;

/// Answer the question.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "::dspy")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Everything {
    #[input]
    bare: String,
    #[input()]
    empty_parens: Option<u8>,
    #[input(desc = "described")]
    described: Vec<String>,
    #[input(prefix = "Label:")]
    prefixed: bool,
    #[output(desc = "both", prefix = "Both:")]
    #[serde(rename = "BOTH", default)]
    both: f32,
    #[output(prefix = "Raw:", desc = "keys in any order")]
    r#type: String,
    #[output]
    #[serde(rename(serialize = "same", deserialize = "same"))]
    directional: i8,
}

fn main() {
    let info = Everything::info();
    assert_eq!(info.inputs[1].name, "emptyParens");
    assert_eq!(info.outputs[0].name, "BOTH");
    assert_eq!(info.outputs[1].name, "type");
    assert_eq!(info.outputs[2].name, "same");
}
