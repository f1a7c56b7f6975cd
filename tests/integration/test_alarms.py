"""The built-in alarms feed: cron schedules fire their trigger, persist across restarts, catch up
once after downtime, stop at stopDate, and go away with the trigger."""

import datetime
import json
import time
import unittest

from harness import Server, ServerTestCase

ECHO = "function main(params) { return {got: params}; }"
FEED = [{"key": "feed", "value": "/whisk.system/alarms/alarm"}]


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def alarm_body(cron, payload=None, start=None, stop=None):
    params = [{"key": "cron", "value": cron}]
    if payload is not None:
        params.append({"key": "trigger_payload", "value": payload})
    if start is not None:
        params.append({"key": "startDate", "value": start})
    if stop is not None:
        params.append({"key": "stopDate", "value": stop})
    return {"annotations": FEED, "parameters": params}


def trigger_records(client, name):
    r = client.get("/api/v1/namespaces/_/activations?name=%s&limit=200&docs=true" % name)
    assert r.status == 200, r
    return r.json()


class AlarmsTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.api.put_json("/api/v1/namespaces/_/actions/echo", {"exec": {"kind": "nodejs:20", "code": ECHO}})
        assert r.status == 200, r

    def wait_for(self, predicate, timeout=15, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        self.fail("%s not met within %ss" % (what, timeout))

    def test_every_second_fires_with_the_payload_and_runs_the_rule(self):
        r = self.api.put_json("/api/v1/namespaces/_/triggers/tick", alarm_body("* * * * * *", {"k": "v"}))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.api.put_json("/api/v1/namespaces/_/rules/tick-echo",
                                           {"trigger": "/_/tick", "action": "/_/echo"}).status, 200)
        got = self.api.get("/api/v1/namespaces/_/triggers/tick").json()
        self.assertEqual(got["alarm"]["cron"], "* * * * * *")
        self.assertEqual(got["parameters"], [])  # the feed's parameters are not event defaults
        recs = self.wait_for(lambda: (lambda x: x if len(x) >= 3 else None)(trigger_records(self.api, "tick")),
                             what="three alarm fires")
        starts = sorted(a["start"] for a in recs)
        # Each due time once: distinct seconds.
        self.assertEqual(len({s // 1000 for s in starts}), len(starts), starts)
        for rec in recs:
            self.assertEqual(rec["response"]["result"], {"k": "v"})
            line = json.loads(rec["logs"][0])
            self.assertEqual(line["rule"], "guest/tick-echo")
        caused = json.loads(recs[-1]["logs"][0])["activationId"]
        self.assertEqual(self.wait_activation(caused)["response"]["result"]["got"], {"k": "v"})
        # Deleting the trigger deletes its schedule: no more fires.
        self.assertEqual(self.api.delete("/api/v1/namespaces/_/triggers/tick").status, 200)
        time.sleep(0.5)
        n = len(trigger_records(self.api, "tick"))
        time.sleep(2.5)
        self.assertEqual(len(trigger_records(self.api, "tick")), n)

    def test_bad_schedules_are_refused(self):
        r = self.api.put_json("/api/v1/namespaces/_/triggers/bad", alarm_body("61 * * * *"))
        self.assertError(r, 400, "minute")
        r = self.api.put_json("/api/v1/namespaces/_/triggers/bad", {"annotations": FEED})
        self.assertError(r, 400, "cron")
        r = self.api.put_json("/api/v1/namespaces/_/triggers/bad", alarm_body("* * * * *", start="soon"))
        self.assertError(r, 400, "startDate")
        r = self.api.put_json("/api/v1/namespaces/_/triggers/bad",
                              {"annotations": [{"key": "feed", "value": "/whisk.system/other/feed"}]})
        self.assertError(r, 400, "feed")
        self.assertError(self.api.get("/api/v1/namespaces/_/triggers/bad"), 404)

    def test_stop_date_ends_the_schedule(self):
        now = int(time.time() * 1000)
        self.api.put_json("/api/v1/namespaces/_/triggers/brief",
                          alarm_body("* * * * * *", {"n": 1}, stop=iso(now + 1500)))
        self.api.put_json("/api/v1/namespaces/_/rules/brief-echo", {"trigger": "brief", "action": "echo"})
        time.sleep(3.5)
        recs = trigger_records(self.api, "brief")
        self.assertTrue(1 <= len(recs) <= 2, recs)
        self.assertTrue(all(a["start"] <= now + 2500 for a in recs), [a["start"] for a in recs])


class AlarmRestartTest(unittest.TestCase):

    def test_missed_due_times_fire_once_after_a_restart(self):
        server = Server()
        self.addCleanup(server.cleanup)
        server.start()
        api = server.client()
        api.put_json("/api/v1/namespaces/_/actions/echo", {"exec": {"kind": "nodejs:20", "code": ECHO}})
        now = int(time.time() * 1000)
        r = api.put_json("/api/v1/namespaces/_/triggers/down",
                         alarm_body("* * * * * *", {"p": 1}, stop=iso(now + 3000)))
        self.assertEqual(r.status, 200, r)
        api.put_json("/api/v1/namespaces/_/rules/down-echo", {"trigger": "down", "action": "echo"})
        api.close()
        self.assertEqual(server.stop(), 0)
        time.sleep(4.5)  # every due time up to stopDate passes while the server is down
        restarted = int(time.time() * 1000)
        server.start()
        api = server.client()
        self.addCleanup(api.close)
        time.sleep(2.5)
        after = [a for a in trigger_records(api, "down") if a["start"] >= restarted]
        self.assertEqual(len(after), 1, "catch-up must fire exactly once: %r" % after)
        got = api.get("/api/v1/namespaces/_/triggers/down").json()
        # The catch-up fired as the latest missed due time, the last second before stopDate.
        self.assertEqual(got["alarm"]["lastFired"], iso((now + 3000) // 1000 * 1000))
        # And the schedule survived the restart with its definition.
        self.assertEqual(got["alarm"]["cron"], "* * * * * *")


if __name__ == "__main__":
    unittest.main()
