#!/usr/bin/env python3
"""Fails when a file in src/ includes a header that its layer may not see.

The rules are a table (layers.txt next to this script; docs/architecture.md "Layers"). The
build enforces the other half: each library sees only the include roots of the libraries it
links (CMakeLists.txt, hotrod_include_root), so a header passes here only if the table allows the
layer AND the library links its owner.

  - A file's layer is the longest layer name in the table that prefixes its path under src/
    ("store/sqlite/schema.cc" is in layer store/sqlite, "store/types.h" in store). A file in no
    layer is an error: a new folder gets a row in the table.
  - `#include "x/y.h"`: allowed when the layer's longest matching entry allows it. Entries are
    path prefixes ("store/", "store/types.h"); "!prefix" forbids where a shorter entry allows;
    "*" allows anything.
  - Tests (*_test.cc) and test helpers (*test_util.h, fake_*.h) follow their folder's rules, and
    may also include the test helpers of any folder (the include roots limit them to helpers of
    libraries the test links) and the extra entries of the table's "tests <layer>" rows.
    Production code never includes a test helper.
  - `#include <x>`: the table's "<x" rows give the only layers that may include system headers of
    a dependency that belongs to one layer (libseccomp, SQLite, ...); "tests" there means test
    files only.

Usage: check_layers.py [--rules FILE] [SRC_DIR]   (defaults: layers.txt here, ../../src)
"""

import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')
SOURCE_SUFFIXES = ('.h', '.hpp', '.cc', '.cpp', '.inc')


class Rules:
    def __init__(self):
        self.layers = {}  # layer -> [entry]
        self.test_extras = {}  # layer -> [entry]
        self.system = []  # (header prefix, set of layers or "tests")


def parse_rules(text):
    """Parses layers.txt; raises ValueError on a malformed line."""
    rules = Rules()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0].startswith('<'):
            rules.system.append((words[0][1:], set(words[1:])))
        elif words[0] == 'tests':
            if len(words) < 3:
                raise ValueError(f'line {number}: "tests <layer> <entries...>"')
            rules.test_extras.setdefault(words[1], []).extend(words[2:])
        else:
            if len(words) < 2:
                raise ValueError(f'line {number}: "<layer> <entries...>"')
            if words[0] in rules.layers:
                raise ValueError(f'line {number}: layer {words[0]} listed twice')
            rules.layers[words[0]] = words[1:]
    for layer in rules.test_extras:
        if layer not in rules.layers:
            raise ValueError(f'tests row for unknown layer {layer}')
    return rules


def layer_of(rel_path, rules):
    """The longest layer that prefixes rel_path (a path under src/), or None."""
    best = None
    for layer in rules.layers:
        if rel_path == layer or rel_path.startswith(layer + '/'):
            if best is None or len(layer) > len(best):
                best = layer
    return best


def allowed_by(entries, include):
    """The verdict of the longest entry that matches include (None: no entry matches)."""
    best_len, verdict = -1, None
    for entry in entries:
        negated = entry.startswith('!')
        prefix = entry[1:] if negated else entry
        if prefix == '*':
            if best_len < 0:
                best_len, verdict = 0, not negated
            continue
        # At equal length the later entry wins: a layer's "tests" extras come after its own.
        if include.startswith(prefix) and len(prefix) >= best_len:
            best_len, verdict = len(prefix), not negated
    return verdict


def is_test_helper(path):
    name = os.path.basename(path)
    return name.endswith('test_util.h') or (name.startswith('fake_') and name.endswith('.h'))


def is_test_file(path):
    name = os.path.basename(path)
    return name.endswith('_test.cc') or name.endswith('_test.h') or is_test_helper(path)


def check_file(rel_path, text, rules):
    """Returns the violations in one file as 'path:line: message' strings."""
    layer = layer_of(rel_path, rules)
    if layer is None:
        return [f'src/{rel_path}: in no layer; give its folder a row in the rules table']
    test = is_test_file(rel_path)
    entries = rules.layers[layer] + (rules.test_extras.get(layer, []) if test else [])
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        match = INCLUDE.match(line)
        if not match:
            continue
        kind, include = match.groups()
        where = f'src/{rel_path}:{number}'
        if kind == '<':
            for prefix, owners in rules.system:
                if include.startswith(prefix):
                    ok = layer in owners or (test and 'tests' in owners)
                    if not ok:
                        problems.append(f'{where}: {layer} may not include <{include}> '
                                        f'(only: {" ".join(sorted(owners))})')
            continue
        if '/' not in include or include.startswith(('./', '../')):
            # Relative to the including file: name it by its path under src/.
            include = os.path.normpath(os.path.join(os.path.dirname(rel_path), include))
        if is_test_helper(include):
            if not test:
                problems.append(f'{where}: production code includes the test helper "{include}"')
            continue
        if not allowed_by(entries, include):
            kind_name = f'{layer} tests' if test else layer
            problems.append(f'{where}: {kind_name} may not include "{include}"')
    return problems


def check_tree(src_dir, rules):
    problems = []
    for root, dirs, files in os.walk(src_dir):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(SOURCE_SUFFIXES):
                continue
            path = os.path.join(root, name)
            rel_path = os.path.relpath(path, src_dir).replace(os.sep, '/')
            with open(path, encoding='utf-8', errors='replace') as f:
                problems.extend(check_file(rel_path, f.read(), rules))
    return problems


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rules', default=os.path.join(HERE, 'layers.txt'))
    parser.add_argument('src', nargs='?', default=os.path.join(HERE, '..', '..', 'src'))
    args = parser.parse_args(argv)
    with open(args.rules, encoding='utf-8') as f:
        try:
            rules = parse_rules(f.read())
        except ValueError as e:
            print(f'{args.rules}: {e}', file=sys.stderr)
            return 2
    problems = check_tree(args.src, rules)
    for problem in problems:
        print(problem)
    if problems:
        print(f'{len(problems)} layering violation(s); rules: {args.rules}', file=sys.stderr)
        return 1
    print(f'layering: every include in {os.path.normpath(args.src)} follows {args.rules}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
