#!/usr/bin/env python3
"""A small HTTP server for the llm pull test (tests/pull_test.sh), on 127.0.0.1 only.

    http_range_server.py ROOT LOG      prints the port it listens on, then serves until killed
                                       (or for 300 s at most)

GET/HEAD /FILE serves ROOT/FILE, with byte ranges ("Range: bytes=S-" or "bytes=S-E": 206 and
Content-Range; 416 past the end). A missing file is a 404.

GET /OWNER/REPO/resolve/REV/FILE answers as Hugging Face does for a file stored with LFS: a 302
to /FILE carrying X-Linked-Etag (the sha256 of the file, quoted) and X-Linked-Size. For the
repository named "badsha" the sha256 given is wrong.

When ROOT/.cut exists, the next GET of a file deletes it and sends the full headers but only
half of the bytes, then closes the connection: an interrupted download.

Every request line and its Range header are appended to LOG.
"""
import hashlib
import http.server
import os
import re
import socket
import sys
import threading

ROOT, LOG = sys.argv[1], sys.argv[2]
LIFETIME_S = 300


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def log_request_line(self):
        with open(LOG, "a") as f:
            f.write("%s %s range=%s\n" % (self.command, self.path, self.headers.get("Range", "-")))

    def do_HEAD(self):
        self.handle_get(head=True)

    def do_GET(self):
        self.handle_get(head=False)

    def send_plain(self, code, text, extra=()):
        body = text.encode()
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_get(self, head):
        self.log_request_line()
        path = self.path.split("?", 1)[0]
        m = re.fullmatch(r"/([^/]+)/([^/]+)/resolve/([^/]+)/([^/]+)", path)
        if m:
            return self.redirect_lfs(m.group(2), m.group(4))
        name = path.lstrip("/")
        full = os.path.join(ROOT, name)
        if "/" in name or name.startswith(".") or not os.path.isfile(full):
            return self.send_plain(404, "not found\n")
        self.send_file(full, head)

    def redirect_lfs(self, repo, name):
        full = os.path.join(ROOT, name)
        if not os.path.isfile(full):
            return self.send_plain(404, "Entry not found\n")
        sha = sha256_of(full)
        if repo == "badsha":
            sha = "0" * 64
        self.send_plain(302, "Found\n", [("Location", "/" + name), ("X-Linked-Etag", '"%s"' % sha),
                                         ("X-Linked-Size", str(os.path.getsize(full))), ("ETag", '"abc123"')])

    def send_file(self, full, head):
        size = os.path.getsize(full)
        start, end = 0, size - 1
        rng = self.headers.get("Range")
        code = 200
        if rng:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if not m:
                return self.send_plain(400, "bad range\n")
            start = int(m.group(1))
            if m.group(2):
                end = min(int(m.group(2)), size - 1)
            if start >= size or start > end:
                return self.send_plain(416, "range not satisfiable\n", [("Content-Range", "bytes */%d" % size)])
            code = 206
        length = end - start + 1
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if code == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        if head:
            return
        cut = os.path.join(ROOT, ".cut")
        send = length
        if os.path.exists(cut):
            os.remove(cut)
            send = length // 2
        with open(full, "rb") as f:
            f.seek(start)
            left = send
            while left > 0:
                block = f.read(min(left, 1 << 16))
                if not block:
                    break
                self.wfile.write(block)
                left -= len(block)
        if send < length:  # the interruption: close the socket with bytes still owed
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up (curl after an interruption) is expected here


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    threading.Timer(LIFETIME_S, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
