#!/usr/bin/env python3
"""Tests of check_layers.py on small trees written to a temporary directory: each rule must
catch its violation, so that the layering test over src/ passing means something."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_layers  # noqa: E402

RULES = """
common        common/
store         store/ !store/sqlite/ common/
store/sqlite  store/ common/
api           api/ store/ !store/sqlite/ common/
sandbox       sandbox/ common/
main.cc       *
tests api     store/sqlite/
<seccomp.h    sandbox
<gtest/       tests
"""


class CheckLayersTest(unittest.TestCase):
    def setUp(self):
        self.rules = check_layers.parse_rules(RULES)
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, path, *includes):
        full = os.path.join(self.dir.name, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'w') as f:
            f.write('// a file\n' + ''.join(f'#include {i}\n' for i in includes))

    def problems(self):
        return check_layers.check_tree(self.dir.name, self.rules)

    def test_allowed_includes_pass(self):
        self.write('api/router.h', '"common/result.h"', '"store/types.h"', '<vector>')
        self.write('store/sqlite/db.cc', '"store/store.h"', '"store/sqlite/db.h"')
        self.write('main.cc', '"sandbox/sandbox.h"', '"api/router.h"')
        self.assertEqual(self.problems(), [])

    def test_forbidden_layer_is_reported_with_file_and_line(self):
        self.write('api/router.cc', '"api/router.h"', '"sandbox/sandbox.h"')
        self.assertEqual(self.problems(),
                         ['src/api/router.cc:3: api may not include "sandbox/sandbox.h"'])

    def test_include_with_spaces_after_hash_is_seen(self):
        self.write('api/x.cc')
        with open(os.path.join(self.dir.name, 'api/x.cc'), 'a') as f:
            f.write('  #  include "sandbox/sandbox.h"\n')
        self.assertEqual(len(self.problems()), 1)

    def test_negated_entry_carves_out_of_a_shorter_one(self):
        self.write('api/log.h', '"store/sqlite/db.h"')
        self.assertEqual(self.problems(),
                         ['src/api/log.h:2: api may not include "store/sqlite/db.h"'])

    def test_longest_layer_decides(self):
        self.write('store/log.h', '"store/sqlite/db.h"')  # store, not store/sqlite
        self.write('store/sqlite/db.h', '"store/sqlite/util.h"')
        self.assertEqual(len(self.problems()), 1)

    def test_tests_get_their_extras_and_any_test_helper(self):
        self.write('api/router_test.cc', '"store/sqlite/db.h"', '"sandbox/fake_sandbox.h"',
                   '"store/sqlite/test_util.h"', '<gtest/gtest.h>')
        self.assertEqual(self.problems(), [])

    def test_tests_follow_their_folder_otherwise(self):
        self.write('api/router_test.cc', '"sandbox/sandbox.h"')
        self.assertEqual(self.problems(),
                         ['src/api/router_test.cc:2: api tests may not include "sandbox/sandbox.h"'])

    def test_production_code_may_not_include_a_test_helper(self):
        self.write('store/sqlite/db.cc', '"store/sqlite/test_util.h"')
        self.write('sandbox/launcher.cc', '"sandbox/fake_sandbox.h"')
        self.assertEqual(len(self.problems()), 2)

    def test_system_headers_of_a_layer(self):
        self.write('api/x.cc', '<seccomp.h>', '<gtest/gtest.h>')
        self.write('sandbox/seccomp.cc', '<seccomp.h>')
        self.assertEqual(self.problems(), [
            'src/api/x.cc:2: api may not include <seccomp.h> (only: sandbox)',
            'src/api/x.cc:3: api may not include <gtest/gtest.h> (only: tests)'])

    def test_file_outside_every_layer_is_an_error(self):
        self.write('newpart/x.cc', '"common/result.h"')
        self.assertEqual(len(self.problems()), 1)
        self.assertIn('in no layer', self.problems()[0])

    def test_relative_include_is_named_by_its_folder(self):
        self.write('api/x.cc', '"../sandbox/sandbox.h"', '"router.h"')
        self.assertEqual(self.problems(),
                         ['src/api/x.cc:2: api may not include "sandbox/sandbox.h"'])

    def test_malformed_rules_are_refused(self):
        with self.assertRaises(ValueError):
            check_layers.parse_rules('api\n')
        with self.assertRaises(ValueError):
            check_layers.parse_rules('api api/\napi common/\n')
        with self.assertRaises(ValueError):
            check_layers.parse_rules('tests nowhere store/\n')

    def test_the_real_rules_parse(self):
        with open(os.path.join(os.path.dirname(check_layers.__file__), 'layers.txt')) as f:
            rules = check_layers.parse_rules(f.read())
        self.assertIn('controller', rules.layers)


if __name__ == '__main__':
    unittest.main()
