#!/usr/bin/env python3
"""test_schema_attrs.py SOURCE — every attribute of ir/attrs.def is allowed on <op> by
frontend/model.xsd and nothing else is, so the schema and the IR cannot drift apart."""
import re
import sys

src = sys.argv[1]
attrs = re.findall(r'^ATTR\((\w+),', open(src + '/ir/attrs.def').read(), re.M)
xsd = open(src + '/frontend/model.xsd').read()
op = re.search(r'<xs:element name="op">(.*?)</xs:element>', xsd, re.S).group(1)
allowed = set(re.findall(r'<xs:attribute name="(\w+)"', op)) - {'kind', 'name', 'in'}
missing = [a for a in attrs if a not in allowed]
extra = sorted(allowed - set(attrs))
print('attrs.def: %d attributes; model.xsd <op>: %d' % (len(attrs), len(allowed)))
if missing or extra:
    print('FAIL: missing in model.xsd: %s; in model.xsd but not attrs.def: %s' % (missing, extra))
    sys.exit(1)
print('PASS')
