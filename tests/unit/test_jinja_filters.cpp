// Jinja filters as jinja2 defines them, and tojson as transformers defines it (json.dumps,
// ensure_ascii=False, ", " and ": " separators, or "," and ": " with an indent). Expected
// strings worked out by hand.
#include <catch2/catch.hpp>

#include "jinja_fixtures.h"

using nlohmann::ordered_json;
using zili::test::render;

namespace {
const ordered_json kMessages = {{"messages",
                                 {{{"role", "system"}, {"content", "S"}},
                                  {{"role", "user"}, {"content", "U"}},
                                  {{"role", "assistant"}, {"content", "A"}}}}};
}

TEST_CASE("string filters") {
  CHECK(render("{{ '  hi  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'Hi'|upper }}{{ 'Hi'|lower }}") ==
        "hi|hi|HIhi");
  CHECK(render("{{ 'hello World'|capitalize }}|{{ 'hello wORLD-foo (bar'|title }}") ==
        "Hello world|Hello World-Foo (Bar");
  CHECK(render("{{ 'a-b-c'|replace('-', '+') }} {{ 'aaa'|replace('a', 'b', 2) }}") == "a+b+c bba");
  CHECK(render("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, true) }}|{{ 'a\n\nb'|indent(1, "
               "blank=true) }}") == "a\n  b\n\n  c|  a\n  b|a\n \n b");
  CHECK(render("{{ 'one two  three'|wordcount }} {{ 5|string ~ 2.5|string }} {{ '<&>'|e }}") ==
        "3 52.5 &lt;&amp;&gt;");
}

TEST_CASE("number filters") {
  CHECK(render("{{ '42'|int + 1 }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }}") ==
        "43 4 0 7 3");
  CHECK(render("{{ '2.5'|float }} {{ 3|float }} {{ 'y'|float }}") == "2.5 3.0 0.0");
  CHECK(render("{{ 2.567|round(2) }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.1|round(0, 'ceil') }} "
               "{{ 7|round }}") == "2.57 2.0 4.0 3.0 7");
  CHECK(render("{{ -3|abs }} {{ -2.5|abs }} {{ [1, 2]|sum }} {{ [1.5, 2]|sum }}") == "3 2.5 3 3.5");
}

TEST_CASE("default, with and without boolean") {
  CHECK(render("{{ x|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} "
               "{{ none|d('n', boolean=true) }} {{ 0|default(5) }}") == "d  d n 0");
}

TEST_CASE("sequence filters") {
  CHECK(render("{{ [1, 2, 3]|length }} {{ 'h\xc3\xa9'|length }} {{ {'a': 1}|count }} "
               "{{ x|length }}") == "3 2 1 0");
  CHECK(render("{{ [3, 1, 2]|first }} {{ [3, 1, 2]|last }} {{ 'abc'|first }} {{ []|first }}|"
               "{{ 'ab'|list }} {{ [3, 1, 2]|sort }} {{ ['b', 'A', 'a']|sort }} "
               "{{ [3, 1, 2]|sort(reverse=true) }}") ==
        "3 2 a |['a', 'b'] [1, 2, 3] ['A', 'a', 'b'] [3, 2, 1]");
  CHECK(render("{{ [1, 2, 3]|join(', ') }} {{ ['a', 'b']|join }} {{ [1, 2]|map('string')|list }} "
               "{{ ['a', 'B']|map('upper')|join }}") == "1, 2, 3 ab ['1', '2'] AB");
  CHECK(render("{{ messages|map(attribute='role')|join(',') }} "
               "{{ messages|map(attribute='x', default='-')|join }}",
               kMessages) == "system,user,assistant ---");
  CHECK(render("{{ [1, 2, 1, 3, 'a', 'A']|unique|list }} {{ 'abc'|reverse }} "
               "{{ [1, 2]|reverse|list }} {{ [1, 2, 3, 4, 5]|batch(2)|list }} "
               "{{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }}") ==
        "[1, 2, 3, 'a'] cba [2, 1] [[1, 2], [3, 4], [5]] 1 3");
}

TEST_CASE("select, reject, selectattr, rejectattr with tests") {
  CHECK(
      render(
          "{{ [0, 1, 2, none]|select|list }} {{ [1, 2, 3, 4]|select('odd')|list }} "
          "{{ [1, 2, 3, 4]|reject('even')|list }} {{ [1, 5, 9]|select('divisibleby', 3)|list }}") ==
      "[1, 2] [1, 3] [1, 3] [9]");
  CHECK(render("{{ messages|selectattr('role', 'equalto', 'user')|list|length }} "
               "{{ messages|rejectattr('role', 'eq', 'system')|map(attribute='content')|join }} "
               "{{ messages|selectattr('role', 'in', ['user', 'system'])|list|length }} "
               "{{ messages|selectattr('tool_calls')|list }} {{ none|selectattr('a')|list }}",
               kMessages) == "1 UA 2 [] []");
}

TEST_CASE("items and dictsort") {
  CHECK(render("{% for k, v in {'b': 2, 'a': 1}|items %}{{ k }}{{ v }}{% endfor %} "
               "{{ {'b': 2, 'A': 1, 'a': 0}|dictsort }} "
               "{{ {'b': 2, 'a': 1}|dictsort(by='value', reverse=true) }}") ==
        "b2a1 [('A', 1), ('a', 0), ('b', 2)] [('b', 2), ('a', 1)]");
}

TEST_CASE("tojson as transformers defines it") {
  CHECK(render("{{ {'a': [1, 2.5, '\xc3\xa9\"'], 'b': none, 'c': true}|tojson }}") ==
        "{\"a\": [1, 2.5, \"\xc3\xa9\\\"\"], \"b\": null, \"c\": true}");
  CHECK(render("{{ {'a': [1, {'x': []}], 'b': {}}|tojson(indent=2) }}") ==
        "{\n  \"a\": [\n    1,\n    {\n      \"x\": []\n    }\n  ],\n  \"b\": {}\n}");
  CHECK(render("{{ 'x\n\t<'|tojson }} {{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}") ==
        "\"x\\n\\t<\" {\"a\": 2, \"b\": 1}");
  CHECK(render("{{ '\xc3\xa9\xf0\x9f\x98\x80'|tojson(ensure_ascii=true) }} "
               "{{ [1, 2]|tojson(separators=(',', ':')) }}") == "\"\\u00e9\\ud83d\\ude00\" [1,2]");
  // Object keys keep the context's order.
  CHECK(render("{{ t|tojson }}", {{"t", {{"z", 1}, {"a", 2}}}}) == "{\"z\": 1, \"a\": 2}");
}

TEST_CASE("safe strings concatenate as jinja2's Markup: + escapes the plain side") {
  CHECK(
      render("{{ \"a'\"|safe + \"b'\" }}|{{ \"a'\" + \"b'\"|safe }}|{{ \"a'\" ~ \"b'\"|safe }}") ==
      "a'b&#39;|a&#39;b'|a'b'");
}
