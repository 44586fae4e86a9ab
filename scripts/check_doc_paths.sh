#!/usr/bin/env bash
# Fails when README.md or docs/*.md names a repository path that does not exist, listing each
# one with its file and line; also when docs/architecture.md's source layout leaves out a folder
# of src/. A path is a word in backticks, in a fenced code block or a link target that starts
# with a folder of this repository (src/ scripts/ tests/ docs/ crates/ benches/ audio-fixtures/
# web/ .ci/), or any relative link target. Paths under models/ (fetched by the set-up) are
# checked only for the models/ folder; target/ and bench-results/ (made by builds and benches)
# and paths outside the repository (../) are skipped. `{a,b}` and `*` are expanded.
# Runs in well under a second; scripts/test.sh calls it before the set-up.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 - "$@" <<'PY'
import glob, os, re, sys

CHECKED = ("src/", "scripts/", "tests/", "docs/", "crates/", "benches/", "audio-fixtures/",
           "web/", ".ci/")
FOLDER_ONLY = ("models/",)
SKIPPED = ("target/", "bench-results/", "../", "/", "~")

def expand_braces(path):
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    out = []
    for alt in m.group(1).split(","):
        out += expand_braces(path[:m.start()] + alt + path[m.end():])
    return out

def exists(path):
    for p in expand_braces(path):
        if any(c in p for c in "*?["):
            if not glob.glob(p):
                return False
        elif not os.path.exists(p):
            return False
    return True

def clean(word):
    word = re.sub(r"""^["'`(\[<]+""", "", word)   # opening quotes and brackets
    word = re.sub(r"""[,;:.!?"'`)\]>]+$""", "", word) # closing ones, and punctuation
    word = re.sub(r"#.*$", "", word)          # an anchor
    word = re.sub(r":\d+.*$", "", word)        # a line number
    return word

def repo_paths(text):
    """Words that start with a checked folder, in backticks or fenced blocks."""
    spans = re.findall(r"```.*?```", text, flags=re.S)
    spans += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    for span in spans:
        for word in re.split(r"[\s=|>]+", span):
            word = clean(word)
            if word.startswith(CHECKED + FOLDER_ONLY) and "..." not in word:
                yield word, word

def link_targets(text, doc_dir):
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        target = target.split("#")[0]
        joined = os.path.normpath(os.path.join(doc_dir, target))
        if joined.startswith(".."):
            continue
        yield joined, target

def line_of(text, word):
    i = text.find(word)
    return text.count("\n", 0, i) + 1 if i >= 0 else 0

docs = ["README.md"] + sorted(glob.glob("docs/*.md"))
missing = []
for doc in docs:
    text = open(doc, encoding="utf-8").read()
    seen = set()
    for path, written in list(repo_paths(text)) + list(link_targets(text, os.path.dirname(doc))):
        if path in seen or path.startswith(SKIPPED):
            continue
        seen.add(path)
        if path.startswith(FOLDER_ONLY):
            path = path.split("/")[0] + "/"
        if not exists(path):
            missing.append(f"{doc}:{line_of(text, written)}: {path}")

layout = "docs/architecture.md"
if os.path.exists(layout):
    text = open(layout, encoding="utf-8").read()
    for name in sorted(os.listdir("src")):
        if os.path.isdir(os.path.join("src", name)) and f"src/{name}/" not in text:
            missing.append(f"{layout}: the source layout does not name src/{name}/")

if missing:
    print("paths named in the docs that do not exist:")
    print("\n".join("  " + m for m in missing))
    sys.exit(1)
print(f"doc paths: all paths named in {len(docs)} files exist")
PY
