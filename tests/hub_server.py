#!/usr/bin/python3
"""A local stand-in for the Hugging Face Hub, for testing `phi3vk pull` offline.

Serves model repos in the Hub's URL layout on 127.0.0.1 (port 0: the kernel
picks one; the port is printed as the first line on stdout):

  GET  /api/models/{owner}/{name}/revision/{rev}[?blobs=true]
       -> {"id", "sha", "siblings": [{"rfilename", "size", "blobId", "lfs": {"sha256", "size", "pointerSize"}}]}
  GET|HEAD /{owner}/{name}/resolve/{rev}/{path}
       regular file: 200, ETag = git blob sha1, X-Repo-Commit
       LFS file:     302 to /cdn-lfs/{sha256}, X-Linked-Etag = sha256, X-Linked-Size, X-Repo-Commit
  GET|HEAD /cdn-lfs/{sha256}                  the LFS bytes, with Range support
  Unknown repo: 401 + X-Error-Code: RepoNotFound; unknown revision: 404 RevisionNotFound;
  unknown file: 404 EntryNotFound (as the Hub answers).

Test modes (--mode, comma-separated):
  drop-once   the first GET of each LFS file sends the headers and half the body, then closes
  corrupt     LFS bytes are served with one byte flipped (same length)
  no-range    Range headers are ignored (always 200 with the whole file)
  no-blobs    the API ignores ?blobs=true (no sizes or hashes: clients must HEAD)
  huge        the listing gives every LFS file a size of 10^15 bytes (1 PB): a client must refuse
              before downloading (free disk space)
  endless     hostile: no sizes anywhere (listing, HEAD), and every file's GET body never
              ends (no Content-Length, bytes until the client hangs up), at --rate bytes/s
              (0: as fast as it goes)

Other options: --rate N (endless mode), --serve owner/name=DIR (serve a folder; *.safetensors/*.bin/*.gguf/*.onnx and
files >= 1 MB are LFS), --token T (require "Authorization: Bearer T" on /api and /resolve),
--log FILE (one line per request: METHOD PATH RANGE STATUS), --manifest FILE (JSON of
every served file: sha256, etag, size, lfs, commit), --max-seconds N (exit after N s).
With no --serve, serves the built-in repo phi3vk-test/tiny-phi3 (a tiny random-weight Phi-3).
The server exits when its parent process goes away.
"""
import argparse
import hashlib
import http.server
import json
import os
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".onnx", ".pt")
LFS_MIN_SIZE = 1 << 20


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def tiny_safetensors(seed):
    """A valid safetensors file (about 280 kB): F16 tensors of a toy Phi-3 (hidden 32, vocab 2048)."""
    rng = random.Random(seed)
    shapes = [("model.embed_tokens.weight", [2048, 32]),
              ("model.layers.0.input_layernorm.weight", [32]),
              ("model.layers.0.self_attn.qkv_proj.weight", [96, 32]),
              ("model.layers.0.self_attn.o_proj.weight", [32, 32]),
              ("model.layers.0.post_attention_layernorm.weight", [32]),
              ("model.layers.0.mlp.gate_up_proj.weight", [128, 32]),
              ("model.layers.0.mlp.down_proj.weight", [32, 64]),
              ("model.norm.weight", [32]),
              ("lm_head.weight", [2048, 32])]
    header, blobs, off = {}, [], 0
    for name, shape in shapes:
        n = 1
        for d in shape:
            n *= d
        data = struct.pack("<%de" % n, *(rng.gauss(0.0, 0.02) for _ in range(n)))
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def builtin_repo():
    cfg = {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": 32,
           "intermediate_size": 64, "num_attention_heads": 4, "num_key_value_heads": 4,
           "num_hidden_layers": 1, "vocab_size": 2048, "max_position_embeddings": 128,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "torch_dtype": "float16"}
    files = {
        "config.json": json.dumps(cfg, indent=2).encode(),
        "generation_config.json": b'{"bos_token_id": 1, "eos_token_id": 2}\n',
        "model.safetensors": tiny_safetensors(7),
        "tokenizer.json": json.dumps({"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0}}}).encode(),
        "tokenizer_config.json": b'{"bos_token": "<s>", "eos_token": "</s>"}\n',
        "special_tokens_map.json": b'{"bos_token": "<s>"}\n',
        "README.md": b"# tiny-phi3\nA random-weight model for tests.\n",
        "onnx/model.onnx": bytes(random.Random(3).getrandbits(8) for _ in range(5000)),
    }
    return files


def load_dir(path):
    files = {}
    for root, _, names in os.walk(path):
        for n in names:
            full = os.path.join(root, n)
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            with open(full, "rb") as f:
                files[rel] = f.read()
    return files


class Repo:
    def __init__(self, repo_id, files):
        self.id = repo_id
        self.files = {}
        for name, data in sorted(files.items()):
            lfs = name.endswith(LFS_SUFFIXES) or len(data) >= LFS_MIN_SIZE
            sha = hashlib.sha256(data).hexdigest()
            entry = {"data": data, "lfs": lfs, "sha256": sha, "size": len(data)}
            if lfs:
                pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (
                    sha.encode(), len(data))
                entry["pointer_size"] = len(pointer)
                entry["blob_id"] = git_blob_sha1(pointer)
                entry["etag"] = sha
            else:
                entry["blob_id"] = git_blob_sha1(data)
                entry["etag"] = entry["blob_id"]
            self.files[name] = entry
        listing = "".join("%s %s\n" % (n, e["blob_id"]) for n, e in self.files.items())
        self.sha = hashlib.sha1((repo_id + "\n" + listing).encode()).hexdigest()

    def info(self, blobs):
        sib = []
        for name, e in self.files.items():
            s = {"rfilename": name}
            if blobs:
                s["size"] = e["size"]
                s["blobId"] = e["blob_id"]
                if e["lfs"]:
                    size = 10 ** 15 if "huge" in State.modes else e["size"]
                    s["size"] = size
                    s["lfs"] = {"sha256": e["sha256"], "size": size, "pointerSize": e["pointer_size"]}
            sib.append(s)
        return {"_id": "0" * 24, "id": self.id, "modelId": self.id, "sha": self.sha, "private": False,
                "tags": ["phi3"], "siblings": sib}


class State:
    repos = {}
    by_sha256 = {}
    modes = set()
    rate = 0
    token = None
    log = None
    dropped = set()
    lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers + body in two writes stall on delayed ACKs
    server_version = "hub-test"

    def log_message(self, fmt, *args):
        pass

    def record(self, status):
        if State.log:
            with State.lock, open(State.log, "a") as f:
                f.write("%s %s %s %d\n" % (self.command, self.path, self.headers.get("Range", "-"), status))

    def reply(self, status, headers=(), body=b"", send_body=True):
        self.record(status)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message):
        body = json.dumps({"error": message}).encode()
        self.reply(status, [("X-Error-Code", code), ("X-Error-Message", message),
                            ("Content-Type", "application/json")], body)

    def authorized(self):
        if State.token is None:
            return True
        return self.headers.get("Authorization") == "Bearer " + State.token

    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        query = urllib.parse.parse_qs(url.query)
        if len(parts) >= 6 and parts[:2] == ["api", "models"] and parts[4] == "revision":
            return self.api(parts[2] + "/" + parts[3], "/".join(parts[5:]), query)
        if len(parts) == 2 and parts[0] == "cdn-lfs":
            return self.cdn(parts[1])
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.resolve(parts[0] + "/" + parts[1], parts[3], "/".join(parts[4:]))
        self.error(404, "NotFound", "no such route")

    def find(self, repo_id, rev):
        repo = State.repos.get(repo_id)
        if repo is None or not self.authorized():
            self.error(401, "RepoNotFound", "Repository not found")
            return None
        if rev not in ("main", repo.sha):
            self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
            return None
        return repo

    def api(self, repo_id, rev, query):
        repo = self.find(repo_id, rev)
        if repo is None:
            return
        blobs = query.get("blobs", ["false"])[0] == "true" and not State.modes & {"no-blobs", "endless"}
        body = json.dumps(repo.info(blobs)).encode()
        self.reply(200, [("Content-Type", "application/json")], body)

    def resolve(self, repo_id, rev, name):
        repo = self.find(repo_id, rev)
        if repo is None:
            return
        e = repo.files.get(name)
        if e is None:
            return self.error(404, "EntryNotFound", "Entry not found")
        common = [("X-Repo-Commit", repo.sha)]
        if "endless" in State.modes:
            return self.endless(common + [("ETag", '"%s"' % e["blob_id"])])
        if e["lfs"]:
            host = "http://%s:%d" % self.server.server_address[:2]
            return self.reply(302, common + [
                ("Location", host + "/cdn-lfs/" + e["sha256"]),
                ("ETag", '"%s"' % e["blob_id"]),
                ("X-Linked-Etag", '"%s"' % e["sha256"]),
                ("X-Linked-Size", str(e["size"]))])
        self.send_bytes(e["data"], common + [("ETag", '"%s"' % e["etag"])])

    def endless(self, headers):
        self.record(200)
        self.send_response(200)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        rate = State.rate
        chunk = b"x" * (max(1, rate // 10) if rate > 0 else 1 << 16)
        try:
            while True:
                self.wfile.write(chunk)
                self.wfile.flush()
                if rate > 0:
                    time.sleep(len(chunk) / rate)
        except OSError:
            pass

    def cdn(self, sha):
        data = State.by_sha256.get(sha)
        if data is None:
            return self.error(404, "NotFound", "no such object")
        if "corrupt" in State.modes:
            data = bytearray(data)
            data[len(data) // 2] ^= 0x5A
            data = bytes(data)
        self.send_bytes(data, [("ETag", '"%s"' % sha)], drop_key=sha)

    def send_bytes(self, data, headers, drop_key=None):
        rng = self.headers.get("Range")
        start = 0
        status = 200
        if rng and "no-range" not in State.modes and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a)
            end = int(b) if b else len(data) - 1
            if start >= len(data):
                return self.reply(416, [("Content-Range", "bytes */%d" % len(data))])
            headers = headers + [("Content-Range", "bytes %d-%d/%d" % (start, end, len(data)))]
            data = data[start:end + 1]
            status = 206
        headers = headers + [("Accept-Ranges", "bytes"), ("Content-Type", "application/octet-stream")]
        drop = False
        if drop_key and "drop-once" in State.modes and self.command == "GET":
            with State.lock:
                drop = drop_key not in State.dropped
                State.dropped.add(drop_key)
        if not drop:
            return self.reply(status, headers, data)
        # Promise the whole body, send half, then cut the connection.
        self.record(status)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def watchdog(max_seconds):
    parent = os.getppid()
    t0 = time.monotonic()
    while True:
        time.sleep(0.2)
        if os.getppid() != parent or time.monotonic() - t0 > max_seconds:
            os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", action="append", default=[], metavar="OWNER/NAME=DIR")
    ap.add_argument("--mode", default="")
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--token")
    ap.add_argument("--log")
    ap.add_argument("--manifest")
    ap.add_argument("--max-seconds", type=float, default=300)
    a = ap.parse_args()
    State.modes = set(m for m in a.mode.split(",") if m)
    State.rate = a.rate
    unknown = State.modes - {"drop-once", "corrupt", "no-range", "no-blobs", "endless", "huge"}
    if unknown:
        ap.error("unknown mode(s): " + ", ".join(sorted(unknown)))
    State.token = a.token
    State.log = a.log
    specs = [(s.partition("=")[0], load_dir(s.partition("=")[2])) for s in a.serve]
    if not specs:
        specs = [("phi3vk-test/tiny-phi3", builtin_repo())]
    for repo_id, files in specs:
        repo = Repo(repo_id, files)
        State.repos[repo_id] = repo
        for e in repo.files.values():
            if e["lfs"]:
                State.by_sha256[e["sha256"]] = e["data"]
    if a.manifest:
        man = {rid: {"sha": r.sha, "files": {n: {k: e[k] for k in ("sha256", "etag", "size", "lfs")}
                                             for n, e in r.files.items()}}
               for rid, r in State.repos.items()}
        with open(a.manifest, "w") as f:
            json.dump(man, f, indent=1)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=watchdog, args=(a.max_seconds,), daemon=True).start()
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
