"""Weige's Open311 GeoReport v2 API driven by independent client libraries from PyPI.

`three` (Code for America's wrapper) posts a request; `georeport` lists services and requests,
fetches the request by id in JSON and XML, and reads its status after a worker closes the case.
Starts `weige demo` on a fresh SQLite file; WEIGE_BIN names the binary.

Run: python e2e/open311/client_test.py   (after pip install -r e2e/open311/requirements.txt)
"""

import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

itertools.ifilter = filter  # three 0.8.0 is Python 2 code; this is the one name it misses
import three  # noqa: E402
from georeport import GeoReport  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("WEIGE_BIN", os.path.join(ROOT, "target", "debug", "weige"))
STREET = "510115001"  # the demo street (温江区 柳城街道)


class Weige:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="weige-open311-")
        self.database = "sqlite://" + os.path.join(self.dir, "weige.db")
        self.proc = subprocess.Popen(
            [BIN, "--database", self.database, "demo", "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + 120
        printed = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("weige exited before printing its address:\n" + printed)
            printed += line
            m = re.search(r"open: (http://\S+)", line)
            if m:
                self.url = m.group(1).rstrip("/")
                return
        raise RuntimeError("weige did not print its address:\n" + printed)

    def cli(self, *args):
        out = subprocess.run(
            [BIN, "--database", self.database, *args],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout

    def api(self, method, path, key, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + key)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req) as res:
            return json.loads(res.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Open311Client(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.weige = Weige()
        printed = cls.weige.cli(
            "apikey", "create", "--name", "open311-client", "--role", "street_admin",
            "--scope", STREET,
        )
        cls.key = printed.strip().splitlines()[-1]
        cls.endpoint = cls.weige.url + "/open311/v2/"

    @classmethod
    def tearDownClass(cls):
        cls.weige.stop()

    def test_post_list_fetch_and_close(self):
        reader = GeoReport(self.endpoint, jurisdiction=STREET)
        services = reader.get_service_list()
        codes = [s["service_code"] for s in services]
        self.assertIn("sg.public_facilities", codes)
        definition = reader.get_service_definition("sg.public_facilities")
        self.assertEqual(definition["service_code"], "sg.public_facilities")
        attributes = {a["code"]: a for a in definition["attributes"]}
        self.assertEqual(attributes["facility"]["datatype"], "singlevaluelist")
        self.assertIn("door", [v["key"] for v in attributes["facility"]["values"]])

        poster = three.Three(self.endpoint, api_key=self.key, jurisdiction=STREET, format="json")
        posted = poster.post(
            "sg.public_facilities",
            lat="30.685",
            long="103.835",
            description="单元门禁坏了，进出不方便",
            first_name="王",
            last_name="芳",
            phone="13800001234",
            **{"attribute[facility]": "door", "attribute[building]": "3栋2单元"},
        )
        self.assertEqual(poster.post_response.status_code, 201, posted)
        number = posted[0]["service_request_id"]
        self.assertRegex(number, r"^\d{9}-\d{4}-\d+$")

        listed = reader.get_service_requests(service_code="sg.public_facilities", status="open")
        self.assertIn(number, [r["service_request_id"] for r in listed])

        one = reader.get_service_request(number)
        self.assertEqual(one["service_request_id"], number)
        self.assertEqual(one["status"], "open")
        self.assertEqual(one["service_code"], "sg.public_facilities")
        self.assertEqual(one["lat"], 30.685)
        # Read without a key: where and how far, not what the resident wrote (privacy).
        self.assertNotIn("description", one)

        as_xml = GeoReport(self.endpoint, jurisdiction=STREET, output_format="xml")
        in_xml = as_xml.get_service_request(number)
        self.assertEqual(in_xml["service_request_id"], number)
        self.assertEqual(in_xml["status"], "open")
        self.assertEqual(float(in_xml["long"]), 103.835)

        # The answers reached the case: Weige's own API shows them with the choice's name.
        cases = self.weige.api("GET", "/api/v1/cases?channel=open311&scope=" + STREET, self.key)
        case = next(c for c in cases["items"] if c["number"] == number)
        full = self.weige.api("GET", "/api/v1/cases/%d" % case["id"], self.key)
        self.assertIn({"question": "哪类设施？", "answer": "单元门禁"}, full["answers"])

        # A street admin closes the case through Weige's own API (特殊结案).
        self.weige.api(
            "POST", "/api/v1/cases/%d/actions" % case["id"], self.key,
            {"action": "force_close", "version": case["version"], "reason": "已现场修复"},
        )

        closed = reader.get_service_request(number)
        self.assertEqual(closed["status"], "closed")
        self.assertEqual(as_xml.get_service_request(number)["status"], "closed")
        self.assertIn(number, [r["service_request_id"]
                               for r in reader.get_service_requests(status="closed")])
        self.assertNotIn(number, [r["service_request_id"]
                                  for r in reader.get_service_requests(status="open")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
