// `then` will not guess: after a round trip, both the pipeline's input and its output have a
// `text`, so which one `Compare` gets is ambiguous.
use dspy::prelude::*;

/// Translate the text into French.
#[derive(Signature, Clone, Debug)]
struct Translate {
    #[input]
    text: String,
    #[output]
    french: String,
}

/// Translate the French back into English.
#[derive(Signature, Clone, Debug)]
struct TranslateBack {
    #[input]
    french: String,
    #[output]
    text: String,
}

/// Say whether the round trip kept the meaning.
#[derive(Signature, Clone, Debug)]
struct Compare {
    #[input]
    text: String,
    #[output]
    same_meaning: bool,
}

fn main() {
    let round_trip = Predict::<Translate>::new().then(Predict::<TranslateBack>::new());
    let _ = round_trip.then(Predict::<Compare>::new());
}
