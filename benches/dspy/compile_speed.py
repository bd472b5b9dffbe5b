"""Python DSPy's side of `cargo bench --bench compile_speed`: the same four instruction
optimizers, with the same settings, on the same TREC split, against DSPy's own DummyLM (an LM
that answers at once), so the times are the optimizers' own overhead.

    pip install dspy==3.4.1
    python3 benches/dspy/compile_speed.py
"""

import json
import logging
import os
import random
import time
from typing import Literal

import dspy
from dspy.teleprompt import COPRO, GEPA, SIMBA, MIPROv2
from dspy.utils import DummyLM

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "examples", "data", "trec", "train.jsonl")

Kind = Literal["abbreviation", "description", "entity", "human", "location", "number"]


class Classify(dspy.Signature):
    """Classify the question by the kind of answer it expects."""

    question: str = dspy.InputField()
    label: Kind = dspy.OutputField()


# One answer for every prompt: every output field any optimizer's signatures ask for.
ANSWER = {
    "label": "human",
    "proposed_instruction": "Classify the question by the kind of answer it expects, carefully.",
    "proposed_prefix_for_output_field": "Label:",
    "observations": "Short factual questions.",
    "summary": "Short factual questions in English.",
    "program_description": "It classifies questions.",
    "module_description": "It classifies one question.",
    "new_instruction": "Classify the question; think about what the answer is.",
    "discussion": "The label was wrong.",
    "module_advice": {"self": "Look at the question word."},
}


def load(n_train, n_val, seed=0):
    with open(DATA) as f:
        rows = [json.loads(line) for line in f]
    random.Random(seed).shuffle(rows)
    examples = [dspy.Example(question=r["question"], label=r["label"]).with_inputs("question") for r in rows]
    return examples[:n_train], examples[n_train : n_train + n_val]


def metric(example, pred, trace=None, *args, **kwargs):
    return float(example.label == pred.label)


def feedback_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    right = gold.label == pred.label
    return dspy.Prediction(score=float(right), feedback="Correct." if right else f"Expected {gold.label}.")


def run(name, compile_fn):
    lm = DummyLM({"": ANSWER})
    dspy.configure(lm=lm)
    started = time.perf_counter()
    compile_fn(lm)
    elapsed = time.perf_counter() - started
    print(f"  {name:<8} {elapsed * 1000:>9.0f} ms, {len(lm.history):>5} LM calls")
    return elapsed


def main():
    logging.getLogger("dspy").setLevel(logging.ERROR)
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    train, val = load(100, 50)
    program = dspy.Predict(Classify)
    threads = 16
    print(f"DSPy {dspy.__version__}: 100 train, 50 validation TREC questions, DummyLM, {threads} threads")
    run(
        "COPRO",
        lambda lm: COPRO(metric=metric, breadth=4, depth=2, track_stats=False).compile(
            program, trainset=val, eval_kwargs={"num_threads": threads, "display_progress": False}
        ),
    )
    run(
        "MIPROv2",
        lambda lm: MIPROv2(
            metric=metric, auto=None, num_candidates=6, num_threads=threads, max_bootstrapped_demos=4,
            max_labeled_demos=4, seed=0, verbose=False,
        ).compile(program, trainset=train, valset=val, num_trials=20, minibatch_size=25),
    )
    run(
        "GEPA",
        lambda lm: GEPA(
            metric=feedback_metric, max_metric_calls=400, reflection_lm=lm, num_threads=threads, seed=0,
        ).compile(program, trainset=train, valset=val),
    )
    run(
        "SIMBA",
        lambda lm: SIMBA(metric=metric, bsize=16, num_candidates=4, max_steps=4, num_threads=threads).compile(
            program, trainset=val
        ),
    )


if __name__ == "__main__":
    main()
