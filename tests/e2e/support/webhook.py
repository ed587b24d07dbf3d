#!/usr/bin/env python3
"""A tiny admission webhook for the e2e suite (never shipped).

  webhook.py CERT KEY PORTFILE

Listens on 127.0.0.1 (a free port, written to PORTFILE) with TLS and answers
AdmissionReview v1 requests:
  /validate  denies objects labelled deny=true with code 403 and message
             "labelled deny", warns "e2e warning" otherwise; every request is
             appended (as JSON) to PORTFILE.requests
  /mutate    adds the label mutated=true with a JSONPatch
  /slow      sleeps 5 s (timeouts)
"""
import base64, json, ssl, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

cert, key, portfile = sys.argv[1:4]

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        review = json.loads(self.rfile.read(n))
        req = review["request"]
        with open(portfile + ".requests", "a") as f:
            f.write(json.dumps(req) + "\n")
        resp = {"uid": req["uid"], "allowed": True}
        obj = req.get("object") or {}
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if self.path.startswith("/validate"):
            if labels.get("deny") == "true":
                resp = {"uid": req["uid"], "allowed": False,
                        "status": {"code": 403, "message": "labelled deny"}}
            else:
                resp["warnings"] = ["e2e warning"]
        elif self.path.startswith("/mutate"):
            ops = []
            if "labels" not in (obj.get("metadata") or {}):
                ops.append({"op": "add", "path": "/metadata/labels", "value": {}})
            ops.append({"op": "add", "path": "/metadata/labels/mutated", "value": "true"})
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
        elif self.path.startswith("/slow"):
            time.sleep(5)
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
