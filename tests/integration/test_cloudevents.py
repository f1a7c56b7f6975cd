"""CloudEvents 1.0 ingress: binary, structured and batched modes on a trigger's fire path and on
/events/{trigger}; actions receive the event in structured form."""

import base64
import json
import socket
import time

from harness import ServerTestCase, basic_auth, send_streaming

ECHO = "function main(params) { return {got: params}; }"

REQUIRED = {"ce-specversion": "1.0", "ce-id": "evt-1", "ce-source": "/sensors/7", "ce-type": "com.example.reading"}


class CloudEventsTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        assert cls.api.put_json("/api/v1/namespaces/_/actions/echo",
                                {"exec": {"kind": "nodejs:20", "code": ECHO}}).status == 200
        assert cls.api.put_json("/api/v1/namespaces/_/triggers/ce",
                                {"parameters": [{"key": "region", "value": "eu"}]}).status == 200
        assert cls.api.put_json("/api/v1/namespaces/_/rules/ce-echo",
                                {"trigger": "/_/ce", "action": "/_/echo"}).status == 200
        assert cls.api.put_json("/api/v1/namespaces/_/triggers/idle", {}).status == 200

    def event_seen_by_action(self, fire_reply):
        self.assertEqual(fire_reply.status, 202, fire_reply)
        rec = self.wait_activation(fire_reply.json()["activationId"])
        caused = json.loads(rec["logs"][0])["activationId"]
        return self.wait_activation(caused)["response"]["result"]["got"]

    def post(self, path, body, headers):
        return self.api.request("POST", "/api/v1/namespaces/_/%s" % path, body=body, headers=headers)

    def test_binary_mode_json_data(self):
        headers = dict(REQUIRED, **{"Content-Type": "application/json", "ce-subject": "temp",
                                    "ce-myextension": "hello%20world"})
        got = self.event_seen_by_action(self.post("triggers/ce", json.dumps({"celsius": 21.5}), headers))
        self.assertEqual(got["specversion"], "1.0")
        self.assertEqual(got["id"], "evt-1")
        self.assertEqual(got["source"], "/sensors/7")
        self.assertEqual(got["type"], "com.example.reading")
        self.assertEqual(got["subject"], "temp")
        self.assertEqual(got["myextension"], "hello world")
        self.assertEqual(got["datacontenttype"], "application/json")
        self.assertEqual(got["data"], {"celsius": 21.5})
        self.assertEqual(got["region"], "eu")  # the trigger's default parameter
        self.assertNotIn("authorization", got)

    def test_binary_mode_text_and_bytes(self):
        got = self.event_seen_by_action(
            self.post("events/ce", "plain words", dict(REQUIRED, **{"Content-Type": "text/plain"})))
        self.assertEqual(got["data"], "plain words")
        raw = bytes(range(256))
        got = self.event_seen_by_action(
            self.post("events/ce", raw, dict(REQUIRED, **{"Content-Type": "application/octet-stream"})))
        self.assertNotIn("data", got)
        self.assertEqual(base64.b64decode(got["data_base64"]), raw)

    def test_structured_mode(self):
        event = {"specversion": "1.0", "id": "s-1", "source": "urn:x", "type": "t.s", "time": "2026-01-01T00:00:00Z",
                 "myext": 7, "data": {"nested": [1, 2]}}
        got = self.event_seen_by_action(self.post(
            "triggers/ce", json.dumps(event), {"Content-Type": "application/cloudevents+json; charset=utf-8"}))
        for k, v in event.items():
            self.assertEqual(got[k], v, k)

    def test_batched_mode_fires_once_per_event(self):
        events = [{"specversion": "1.0", "id": "b-%d" % i, "source": "/b", "type": "t.b", "data": i} for i in range(3)]
        r = self.post("events/ce", json.dumps(events), {"Content-Type": "application/cloudevents-batch+json"})
        self.assertEqual(r.status, 202, r)
        ids = r.json()["activationIds"]
        self.assertEqual(len(ids), 3)
        self.assertEqual(len(set(ids)), 3)
        seen = []
        for tid in ids:
            rec = self.wait_activation(tid)
            seen.append(rec["response"]["result"]["id"])
        self.assertEqual(seen, ["b-0", "b-1", "b-2"])
        r = self.post("events/idle", json.dumps(events[:1]), {"Content-Type": "application/cloudevents-batch+json"})
        self.assertEqual(r.json()["activationIds"], [None])  # no active rule: nothing ran

    def test_errors_name_the_attribute(self):
        for missing in ("ce-id", "ce-source", "ce-type", "ce-specversion"):
            headers = {k: v for k, v in REQUIRED.items() if k != missing}
            if missing == "ce-specversion":
                r = self.post("events/ce", "{}", dict(headers, **{"Content-Type": "application/json"}))
                self.assertError(r, 400, "not a cloudevent")
                continue
            r = self.post("triggers/ce", "{}", dict(headers, **{"Content-Type": "application/json"}))
            self.assertError(r, 400, "'%s'" % missing[3:])
        r = self.post("triggers/ce", "{}", dict(REQUIRED, **{"ce-specversion": "0.3"}))
        self.assertError(r, 400, "specversion")
        r = self.post("triggers/ce", json.dumps({"specversion": "1.0", "id": "x", "type": "t"}),
                      {"Content-Type": "application/cloudevents+json"})
        self.assertError(r, 400, "'source'")
        r = self.post("triggers/ce", "{broken", dict(REQUIRED, **{"Content-Type": "application/json"}))
        self.assertError(r, 400, "not json")
        r = self.post("events/ce", json.dumps([{"id": "1"}]), {"Content-Type": "application/cloudevents-batch+json"})
        self.assertError(r, 400, "batch event 0")
        r = self.post("events/missing", "{}", dict(REQUIRED, **{"Content-Type": "application/json"}))
        self.assertError(r, 404)
        r = self.api.request("POST", "/api/v1/namespaces/_/events/ce", body="{}", auth=None,
                             headers=dict(REQUIRED, **{"Content-Type": "application/json"}))
        self.assertError(r, 401)
        self.assertError(self.api.get("/api/v1/namespaces/_/events/ce"), 405)

    def test_no_active_rule_is_204(self):
        r = self.post("events/idle", "{}", dict(REQUIRED, **{"Content-Type": "application/json"}))
        self.assertEqual(r.status, 204, r)

    def test_chunked_body_in_binary_mode(self):
        payload = json.dumps({"chunked": True, "pad": "x" * 5000}).encode()
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        try:
            head = ("POST /api/v1/namespaces/_/triggers/ce HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n" % basic_auth(self.server.key))
            head += "".join("%s: %s\r\n" % kv for kv in REQUIRED.items()) + "\r\n"
            s.sendall(head.encode())
            for i in range(0, len(payload), 1000):
                piece = payload[i:i + 1000]
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                time.sleep(0.01)
            s.sendall(b"0\r\n\r\n")
            reply = b""
            while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        finally:
            s.close()
        status_line, _, rest = reply.partition(b"\r\n")
        self.assertIn(b" 202 ", status_line, reply)
        body = json.loads(rest.partition(b"\r\n\r\n")[2])
        rec = self.wait_activation(body["activationId"])
        caused = json.loads(rec["logs"][0])["activationId"]
        got = self.wait_activation(caused)["response"]["result"]["got"]
        self.assertEqual(got["data"]["pad"], "x" * 5000)

    def test_fire_bodies_up_to_the_invoke_limit(self):
        # 2 MB declared: over the 1 MB invoke limit, refused before the body is read.
        status, _, _, _, _ = send_streaming(
            self.server.port, "POST", "/api/v1/namespaces/_/events/ce",
            dict(REQUIRED, **{"Authorization": basic_auth(self.server.key), "Content-Type": "text/plain"}),
            declared_length=2 << 20, total=2 << 20)
        self.assertEqual(status, 413)
        big = "y" * (900 << 10)  # under the limit: accepted
        got = self.event_seen_by_action(self.post("events/ce", big, dict(REQUIRED, **{"Content-Type": "text/plain"})))
        self.assertEqual(len(got["data"]), len(big))


if __name__ == "__main__":
    import unittest
    unittest.main()
