#!/usr/bin/env python3
"""Builds the RAG example's corpus and questions from Debian's package descriptions.

    apt-get -o Acquire::Languages=en update      # the long descriptions (Translation-en)
    python3 make_debian_qa.py

writes, beside this script:

- passages.jsonl: one passage per package, {"id": name, "text": "name: first paragraph of the
  long description"}: the corpus `examples/rag.rs` retrieves from;
- questions.jsonl: {"question": "Which Debian package is described as \"<short description>\"?",
  "answer": name}: questions whose answer is one package of the corpus.

The short description is never part of a passage, so retrieval has to match the question's
words against the long description, as with any real question. Packages are kept when they
look like programs a person would ask about (not libraries, -dev/-doc/-data splits, language
modules or fonts), have a long description and a short description no other kept package
shares. Which ones are kept, and which become questions, depends only on their names (a
hash), so the same package lists give the same files.
"""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

PASSAGES = 3000
QUESTIONS = 600
MAX_PASSAGE_CHARS = 400

# Name patterns of packages that are parts of something else, or near-duplicates of each other.
SKIP = re.compile(
    r"^(lib|python3?-|ruby-|golang-|node-|r-cran-|r-bioc-|php-|perl-|haskell-|ocaml-|"
    r"elpa-|fonts-|texlive-|gir1\.2-|linux-|firmware-|xfonts-|rust-|librust-|"
    r"openjdk-|gcc-|g\+\+-|cpp-|llvm-|clang-|tree-puzzle|.*-(dev|doc|dbg|dbgsym|data|common|"
    r"l10n|locale|examples|tests?|plugins?|bin|utils-.*|i18n)$)"
)


def stanzas(text):
    """Each package's fields, from the Packages format."""
    for block in text.split("\n\n"):
        fields, key = {}, None
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields[key] += "\n" + line[1:]
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if "Package" in fields:
            yield fields


def first_paragraph(description):
    """The long description's first paragraph, on one line ('.' lines separate paragraphs)."""
    lines = description.split("\n")[1:]
    paragraph = []
    for line in lines:
        if line.strip() == ".":
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    return " ".join(" ".join(paragraph).split())


def rank(name, salt):
    return hashlib.sha256(f"{salt}:{name}".encode()).hexdigest()


def translations():
    """The English descriptions apt keeps (Translation-en of bookworm main), decompressed by apt."""
    lists = Path("/var/lib/apt/lists")
    files = sorted(lists.glob("*_dists_bookworm_main_i18n_Translation-en*"))
    if not files:
        sys.exit("no Translation-en in /var/lib/apt/lists: run apt-get -o Acquire::Languages=en update")
    cat = ["/usr/lib/apt/apt-helper", "cat-file", str(files[0])]
    return subprocess.run(cat, check=True, capture_output=True, text=True).stdout


def main():
    seen = {}
    for fields in stanzas(translations()):
        name = fields["Package"]
        description = fields.get("Description-en", "")
        if name in seen or SKIP.match(name) or "\n" not in description:
            continue
        short = description.split("\n", 1)[0].strip()
        long = first_paragraph(description)
        if len(long) < 80 or len(short) < 12 or "transitional" in short.lower():
            continue
        seen[name] = (short, long[:MAX_PASSAGE_CHARS].rsplit(" ", 1)[0] if len(long) > MAX_PASSAGE_CHARS else long)

    by_short = {}
    for name, (short, _) in seen.items():
        by_short.setdefault(short.lower(), []).append(name)
    unique = [n for n, (s, _) in seen.items() if len(by_short[s.lower()]) == 1]
    kept = sorted(sorted(unique, key=lambda n: rank(n, "passage"))[:PASSAGES])
    asked = sorted(kept, key=lambda n: rank(n, "question"))[:QUESTIONS]

    here = Path(__file__).parent
    with open(here / "passages.jsonl", "w") as out:
        for name in kept:
            out.write(json.dumps({"id": name, "text": f"{name}: {seen[name][1]}"}) + "\n")
    with open(here / "questions.jsonl", "w") as out:
        for name in asked:
            short = seen[name][0].rstrip(".")
            question = f'Which Debian package is described as "{short}"?'
            out.write(json.dumps({"question": question, "answer": name}) + "\n")
    print(f"{len(seen)} candidates, {len(unique)} with a unique description; "
          f"wrote {len(kept)} passages and {len(asked)} questions", file=sys.stderr)


if __name__ == "__main__":
    main()
