"""Renders the prompts and requests DSPy 3.4.1 produces for the cases in `dspy-core/tests/dspy_parity.rs`.

Each case is written to `<name>.json`: the demos, the input, the messages DSPy's adapter formats, and, for
JSON-adapter cases, the `response_format` DSPy sent in a real request to a local fake OpenAI server (for a
model DSPy knows supports schemas, `openai/gpt-4o-mini`, and for one it does not know).

    pip install dspy==3.4.1      # or: python3 -m venv /tmp/dspyenv && /tmp/dspyenv/bin/pip install dspy==3.4.1
    python3 dspy-core/tests/data/dspy_prompts/render.py

No network is needed: the requests go to a server on 127.0.0.1 started by this script.
"""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Literal, Optional

import dspy
from pydantic import BaseModel, Field

HERE = os.path.dirname(os.path.abspath(__file__))
assert dspy.__version__ == "3.4.1", f"fixtures are pinned to DSPy 3.4.1, found {dspy.__version__}"


# --- Signatures (their Rust twins are in dspy-core/tests/dspy_parity.rs) -----------------------------


class Address(BaseModel):
    city: str
    zip: str = Field(description="postal code")


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str
    age: int
    address: Address
    priority: Literal["low", "high"]
    tags: list[str]
    alt: Optional[Address] = None
    nickname: Optional[str] = None


class Extract(dspy.Signature):
    """Extract the person and their contacts."""

    text: str = dspy.InputField()
    person: Person = dspy.OutputField(desc="who the text is about")
    contacts: list[Address] = dspy.OutputField()


class Labelled(dspy.Signature):
    """Label the question and answer it."""

    context: str = dspy.InputField()
    question: str = dspy.InputField()
    label: str = dspy.OutputField()
    answer: str = dspy.OutputField()


# DSPy's common RAG signature: `context` is text (the string signature's default type), given a list.
TextRag = dspy.Signature("context, question -> answer", "Answer the question from the context.")


class ListRag(dspy.Signature):
    """Answer the question from the context."""

    context: list[str] = dspy.InputField()
    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


class Count(dspy.Signature):
    """Count the words."""

    text: str = dspy.InputField()
    counts: dict[str, int] = dspy.OutputField()


class QA(dspy.Signature):
    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


Coarse = Literal["abbreviation", "description", "entity", "human", "location", "number"]


class Fine(dspy.Signature):
    """Pick the fine class of the question from the shortlist."""

    question: str = dspy.InputField()
    label: Coarse = dspy.InputField()
    shortlist: list[str] = dspy.InputField()
    fine_label: str = dspy.OutputField()


# The last stage of the three-stage TREC program in tests/optimize/pipeline.rs, as DSPy's
# ChainOfThought extends it (a `reasoning` output first).
FineCot = dspy.ChainOfThought(Fine).predict.signature


# --- Cases ----------------------------------------------------------------------------------------

ADDRESS = {"city": "Paris", "zip": "75001"}
PERSON = {
    "name": "Ada",
    "age": 36,
    "address": ADDRESS,
    "priority": "high",
    "tags": ["math", "engines"],
    "alt": None,
    "nickname": "Countess",
}

INCOMPLETE_DEMOS = [
    {"context": "Plays are by Shakespeare.", "question": "Who wrote Hamlet?", "label": "literature",
     "answer": "Shakespeare"},
    {"question": "Who wrote Hamlet?", "answer": "Shakespeare"},
    {"context": "only", "label": "x"},
    # No output field: dropped. No input field: dropped.
    {"context": "c", "question": "q"},
    {"label": "l", "answer": "a"},
    # A field given as None counts as not supplied for grouping, and is shown as None.
    {"context": "The sky.", "question": "What colour?", "label": None, "answer": "blue"},
    # Missing the last input and the first output.
    {"context": "Dogs bark.", "answer": "barking"},
]

# What BootstrapFewShot gave that stage on the first 12 TREC questions (the test checks they are the
# same): two traces of passing runs, complete, then two labeled examples, which have no shortlist
# and no reasoning.
PIPELINE_FINE_DEMOS = [
 {
  "question": "How did serfdom develop in and then leave Russia ?",
  "label": "description",
  "shortlist": [
   "def",
   "manner",
   "reason"
  ],
  "fine_label": "manner",
  "reasoning": "It asks for a manner."
 },
 {
  "question": "How can I find a list of celebrities  real names ?",
  "label": "description",
  "shortlist": [
   "def",
   "manner",
   "reason"
  ],
  "fine_label": "manner",
  "reasoning": "It asks for a manner."
 },
 {
  "question": "What contemptible scoundrel stole the cork from my lunch ?",
  "label": "human",
  "fine_label": "ind"
 },
 {
  "question": "Name the scar-faced bounty hunter of The Old West .",
  "label": "human",
  "fine_label": "ind"
 }
]

PASSAGES = ["Paris is the capital of France.", "It has «many» museums.", "Two lines:\nsecond line.", "  padded  "]

CASES = [
    ("nested", Extract, [{"text": "Ada lives in Paris.", "person": PERSON, "contacts": [ADDRESS]}],
     {"text": "Grace lives in New York."}),
    ("incomplete", Labelled, INCOMPLETE_DEMOS, {"context": "Milk is white.", "question": "What colour is milk?"}),
    ("text_list", TextRag,
     [{"context": ["One passage only."], "question": "q1", "answer": "a1"},
      {"context": [], "question": "q2", "answer": "a2"}],
     {"context": PASSAGES, "question": "What is the capital of France?"}),
    ("list_context", ListRag, [{"context": PASSAGES[:2], "question": "q1", "answer": "a1"}],
     {"context": PASSAGES, "question": "What is the capital of France?"}),
    ("ordered_map", Count, [{"text": "zebra apple zebra", "counts": {"zebra": 2, "apple": 1}}],
     {"text": "b a b"}),
    ("pipeline_fine", FineCot, PIPELINE_FINE_DEMOS,
     {"question": "What city is the Eiffel Tower in ?", "label": "location",
      "shortlist": ["city", "country", "other"]}),
]


def messages_of(adapter, signature, demos, inputs):
    return [{"role": m["role"], "content": m["content"]} for m in adapter.format(signature, demos, inputs)]


# --- A fake OpenAI server, to see the requests DSPy really sends ------------------------------------------

BODIES = []
REPLY = ["{}"]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        BODIES.append(body)
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"),
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": REPLY[0]}}],
                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def response_formats(port, signature, reply):
    """The `response_format` DSPy's JSONAdapter sends, per model (absent: `None`)."""
    out = {}
    for model in ["openai/gpt-4o-mini", "openai/my-local-model"]:
        lm = dspy.LM(model, api_base=f"http://127.0.0.1:{port}/v1", api_key="sk-not-a-key", cache=False)
        REPLY[0] = json.dumps(reply)
        inputs = {name: "x" for name in signature.input_fields}
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
            dspy.Predict(signature)(**inputs)
        out[model] = BODIES[-1].get("response_format")
    return out


def write(name, data):
    with open(os.path.join(HERE, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
        f.write("\n")


def main():
    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    for name, signature, demos, inputs in CASES:
        for suffix, adapter in [("chat", dspy.ChatAdapter()), ("json", dspy.JSONAdapter())]:
            write(f"{name}_{suffix}", {
                "demos": demos,
                "input": inputs,
                "messages": messages_of(adapter, signature, demos, inputs),
            })
    replies = {
        "nested": {"person": PERSON, "contacts": [ADDRESS]},
        "open_map": {"counts": {"a": 1}},
        "qa": {"answer": "Paris"},
    }
    write("response_formats", {
        "nested": response_formats(port, Extract, replies["nested"]),
        "open_map": response_formats(port, Count, replies["open_map"]),
        "qa": response_formats(port, QA, replies["qa"]),
    })
    server.shutdown()


if __name__ == "__main__":
    main()
