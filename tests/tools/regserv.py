#!/usr/bin/python3
"""tests/tools/regserv.py MODE --port N ...: the helper servers of the pull
tests (tests/host/pull.sh, world in tests/tools/regworld.sh), on loopback.

  token      a Docker token server (https): RS256 JWTs signed with openssl,
             with an x5c header the registry checks against its
             rootcertbundle. Anonymous requests get pull access to
             repositories under public/ only; --users USER:PASS,... may have
             any. Logs each request's user and scopes (never the token).
  redirect   answers 401 Basic until it gets --require-basic's credentials
             (when given), then redirects every request to --target + path;
             logs whether each request carried Authorization.
  proxy      a TCP proxy to --target that logs the request heads it sees
             (plain http only). With --cut BYTES, the first --times
             connections whose server->client stream passes BYTES are
             stopped there: --how close closes them, stall holds them open
             and silent, alternate closes the 1st, 3rd... and stalls the 2nd,
             4th... Logs "cut: closed" / "cut: stalled" when it does. With
             --total, BYTES counts the server->client bytes of all
             connections together (so the cut falls at the same place in a
             pull whether or not the client keeps its connection alive).
  chunkproxy an HTTP proxy to a plain http --target that re-sends every body
             with Transfer-Encoding: chunked: random chunk sizes, chunk
             extensions and a trailer.
  silent     accepts connections and never answers.
  wait       (no --port) waits until every PORT given accepts connections;
             exit 1 after --secs. With --free, exit 1 at once if any of them
             already accepts (something else holds the port).

Each server logs to stdout (flushed per line) and runs until killed.
"""
import argparse, base64, http.client, json, os, random, socket, ssl, subprocess
import sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def log(*a):
    print(*a, flush=True)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def listener(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    return ls


# ---------------------------------------------------------------- token

def make_jwt(args, sub, access):
    now = int(time.time())
    der = subprocess.run(["openssl", "x509", "-in", args.signcert, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    claims = {"iss": args.issuer, "sub": sub, "aud": args.service, "exp": now + 600,
              "nbf": now - 60, "iat": now, "jti": b64url(os.urandom(12)), "access": access}
    signing = (b64url(json.dumps(header).encode()) + "." +
               b64url(json.dumps(claims).encode())).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", args.signkey],
                         input=signing, check=True, capture_output=True).stdout
    return signing.decode() + "." + b64url(sig)


def token_server(args):
    users = dict(u.split(":", 1) for u in args.users.split(",") if u)

    class H(Quiet):
        def do_GET(self):
            q = urllib.parse.urlparse(self.path)
            params = urllib.parse.parse_qs(q.query)
            user = ""
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                if users.get(u) != p:
                    log("token: bad credentials for %r" % u)
                    return self.reply(401, b'{"details":"bad credentials"}',
                                      [("Content-Type", "application/json")])
                user = u
            elif auth:
                log("token: unexpected Authorization scheme")
                return self.reply(400, b"bad auth")
            if q.path != "/token" or params.get("service") != [args.service]:
                log("token: bad request", self.path)
                return self.reply(400, b'{"details":"bad request"}')
            access = []
            for sc in params.get("scope", []):
                typ, name, actions = sc.split(":", 2)
                if name.startswith("public/") or user:
                    access.append({"type": typ, "name": name, "actions": ["pull"]})
            log("token: user=%r scopes=%r granted=%d" % (user, params.get("scope"), len(access)))
            tok = make_jwt(args, user, access)
            self.reply(200, json.dumps({"token": tok, "expires_in": 600}).encode(),
                       [("Content-Type", "application/json")])

    return H


# ------------------------------------------------------------- redirect

def redirect_server(args):
    want = "Basic " + base64.b64encode(args.require_basic.encode()).decode() \
        if args.require_basic else None

    class H(Quiet):
        def handle_any(self):
            auth = self.headers.get("Authorization")
            log("redirect: %s %s auth=%s" % (self.command, self.path, "yes" if auth else "no"))
            if want and auth != want:
                return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}',
                                  [("WWW-Authenticate", 'Basic realm="redirect"'),
                                   ("Content-Type", "application/json")])
            # a body on the redirect, as real servers send one
            self.reply(args.code, b"<a>moved</a>", [("Location", args.target + self.path)])

        do_GET = do_HEAD = handle_any

    return H


# ------------------------------------------------------------ chunkproxy

def chunk_proxy(args):
    up = urllib.parse.urlparse(args.target)

    class H(Quiet):
        def do_GET(self):
            c = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
            hdrs = {k: v for k, v in self.headers.items()
                    if k.lower() not in ("host", "connection")}
            c.request("GET", self.path, headers=hdrs)
            r = c.getresponse()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            total = 0
            while True:
                data = r.read(random.randint(1, 70000))
                if not data:
                    break
                i = 0
                while i < len(data):
                    n = random.randint(1, 9000)
                    piece = data[i:i + n]
                    ext = b";x=%d" % n if random.random() < 0.3 else b""
                    self.wfile.write(b"%x%s\r\n" % (len(piece), ext) + piece + b"\r\n")
                    i += n
                total += len(data)
            self.wfile.write(b"0\r\nX-Trailer: done\r\n\r\n")
            log("chunkproxy: %s %d -> %d bytes chunked" % (self.path, r.status, total))
            c.close()

    return H


# ----------------------------------------------------------------- proxy

def proxy(args):
    th, tp = args.target.rsplit(":", 1)
    cuts = [0]
    total = [0]  # server->client bytes of all connections (--total)
    lock = threading.Lock()
    ls = listener(args.port)

    def pipe_up(a, b, gone):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                if d[:4] in (b"GET ", b"HEAD"):
                    head = d.split(b"\r\n\r\n")[0].decode(errors="replace")
                    log("request: " + head.replace("\r\n", " | "))
                b.sendall(d)
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        gone.set()

    def take_cut():  # -> the number of this cut, or -1: no more cuts
        with lock:
            n = cuts[0]
            if n >= args.times:
                return -1
            cuts[0] += 1
            return n

    def serve(cs):
        us = socket.create_connection((th, int(tp)))
        gone = threading.Event()  # set when the client has closed its side
        threading.Thread(target=pipe_up, args=(cs, us, gone), daemon=True).start()
        sent = 0
        try:
            while True:
                d = us.recv(65536)
                if not d:
                    break
                with lock:
                    before = total[0] if args.total else sent
                    total[0] += len(d)
                if args.cut and before + len(d) > args.cut and before <= args.cut:
                    n = take_cut()
                    if n >= 0:
                        cs.sendall(d[:args.cut - before])
                        stall = args.how == "stall" or (args.how == "alternate" and n % 2)
                        log("cut: %s a connection after %d bytes" %
                            ("stalled" if stall else "closed", args.cut))
                        if stall:
                            gone.wait()  # silent and open, until the client goes
                        break
                cs.sendall(d)
                sent += len(d)
        except OSError:
            pass
        # shutdown, not just close: pipe_up's recv holds the sockets open
        for s in (cs, us):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    log("proxy: listening on %d" % args.port)
    while True:
        cs, _ = ls.accept()
        threading.Thread(target=serve, args=(cs,), daemon=True).start()


def silent(args):
    ls = listener(args.port)
    held = []
    log("silent: listening on %d" % args.port)
    while True:
        c, _ = ls.accept()
        held.append(c)
        log("silent: accepted a connection")


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def wait(args):
    if args.free:
        busy = [p for p in args.ports if accepts(p)]
        if busy:
            log("ports already in use: %s" % " ".join(map(str, busy)))
            return 1
        return 0
    end = time.time() + args.secs
    for p in args.ports:
        while not accepts(p):
            if time.time() > end:
                log("port %d did not open in %d s" % (p, args.secs))
                return 1
            time.sleep(0.05)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["token", "redirect", "proxy", "chunkproxy", "silent", "wait"])
    ap.add_argument("ports", nargs="*", type=int)
    ap.add_argument("--port", type=int)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--signcert")
    ap.add_argument("--signkey")
    ap.add_argument("--issuer", default="test-issuer")
    ap.add_argument("--service", default="test-registry")
    ap.add_argument("--users", default="")
    ap.add_argument("--target")
    ap.add_argument("--code", type=int, default=307)
    ap.add_argument("--require-basic")
    ap.add_argument("--cut", type=int, default=0)
    ap.add_argument("--times", type=int, default=1)
    ap.add_argument("--how", choices=["close", "stall", "alternate"], default="close")
    ap.add_argument("--total", action="store_true")
    ap.add_argument("--free", action="store_true")
    ap.add_argument("--secs", type=int, default=15)
    args = ap.parse_intermixed_args()
    if args.mode == "wait":
        return wait(args)
    if args.mode == "proxy":
        return proxy(args)
    if args.mode == "silent":
        return silent(args)
    handler = {"token": token_server, "redirect": redirect_server,
               "chunkproxy": chunk_proxy}[args.mode](args)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    srv.daemon_threads = True
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    log("%s: listening on %d" % (args.mode, args.port))
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
